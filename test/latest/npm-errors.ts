/**
 * One line that says why `npm install` failed, naming the package and
 * version at fault, from npm's own (long) error output.
 */

const lines = (output: string) =>
  output
    .split('\n')
    .map((line) => line.replace(/^npm (error|ERR!)\s?/, '').trim())
    .filter(Boolean);

export function explainInstallFailure(output: string): string {
  const all = lines(output);
  const after = (marker: string) => {
    const index = all.findIndex((line) => line.startsWith(marker));
    return index === -1 ? undefined : all[index]!.slice(marker.length).trim() || all[index + 1];
  };
  if (all.some((line) => line.includes('ERESOLVE'))) {
    const found = after('Found:');
    const conflict = after('Conflicting peer dependency:');
    const wanted = after('Could not resolve dependency:');
    const culprit = conflict ?? found;
    if (culprit && wanted) return `${culprit} does not satisfy ${wanted} (npm ERESOLVE)`;
    if (culprit) return `${culprit} conflicts with a peer range (npm ERESOLVE)`;
  }
  const noVersion = all.find((line) => line.startsWith('notarget No matching version found for'));
  if (noVersion) return noVersion.replace(/^notarget /, '');
  const notFound = all.find((line) => /^404 .*Not Found/.test(line));
  if (notFound) return notFound;
  return all.find((line) => !line.startsWith('code ') && !line.startsWith('A complete log')) ?? 'npm install failed without a message';
}
