/** The drift check's one-line reasons for a failed `npm install`, and the README commands it tries. */
import { describe, expect, it } from 'vitest';
import { explainInstallFailure } from './npm-errors.js';
import { readmeInstallCommands } from './run.js';

const ERESOLVE = `npm error code ERESOLVE
npm error ERESOLVE unable to resolve dependency tree
npm error
npm error While resolving: readme-app@undefined
npm error Found: postgres@4.2.0
npm error node_modules/postgres
npm error   peerOptional postgres@">=3" from drizzle-orm@0.45.4
npm error
npm error Could not resolve dependency:
npm error peerOptional postgres@"^3.4.0" from pgflow-orm@0.2.0
npm error node_modules/pgflow-orm
npm error
npm error Fix the upstream dependency conflict, or retry this command with --force or --legacy-peer-deps
`;

const CONFLICTING = `npm error code ERESOLVE
npm error ERESOLVE could not resolve
npm error
npm error While resolving: pgflow-orm@0.3.0
npm error Found: kysely@0.30.0
npm error node_modules/kysely
npm error
npm error Could not resolve dependency:
npm error peerOptional kysely@"^0.28.0 || ^0.29.0" from pgflow-orm@0.3.0
npm error
npm error Conflicting peer dependency: kysely@0.29.9
`;

describe('explainInstallFailure', () => {
  it('names the release npm found and the range it does not satisfy', () => {
    expect(explainInstallFailure(ERESOLVE)).toBe('postgres@4.2.0 does not satisfy peerOptional postgres@"^3.4.0" from pgflow-orm@0.2.0 (npm ERESOLVE)');
  });

  it('prefers the conflicting peer npm names', () => {
    expect(explainInstallFailure(CONFLICTING)).toBe('kysely@0.29.9 does not satisfy peerOptional kysely@"^0.28.0 || ^0.29.0" from pgflow-orm@0.3.0 (npm ERESOLVE)');
  });

  it('says which version does not exist', () => {
    expect(explainInstallFailure('npm error code ETARGET\nnpm error notarget No matching version found for drizzle-orm@9.9.9.\n')).toBe(
      'No matching version found for drizzle-orm@9.9.9.',
    );
  });

  it('falls back to npm’s first message', () => {
    expect(explainInstallFailure('npm error code EACCES\nnpm error permission denied, mkdir /x\n')).toBe('permission denied, mkdir /x');
  });
});

describe('readmeInstallCommands', () => {
  it('finds `npm install pgflow-orm …` lines in shell blocks, without comments', () => {
    const readme = [
      'Install:',
      '```sh',
      'npm install pgflow-orm drizzle-orm pg        # node-postgres',
      'npm install -D drizzle-kit',
      '```',
      '```ts',
      "// npm install pgflow-orm kysely (not a shell block)",
      '```',
      '```bash',
      'npm install pgflow-orm kysely pg',
      '```',
    ].join('\n');
    expect(readmeInstallCommands(readme)).toEqual([
      ['pgflow-orm', 'drizzle-orm', 'pg'],
      ['pgflow-orm', 'kysely', 'pg'],
    ]);
  });
});
