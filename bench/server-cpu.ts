/**
 * Server CPU time from /proc, when the server runs on this machine (the
 * embedded one does): the user + system time of the postmaster and all its
 * children (backends, WAL writer, checkpointer, ...), summed. A backend that
 * exits between two readings takes its time with it, so readings are taken
 * while the measured connections are still open.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** pid, ppid and utime + stime (ticks) from /proc/<pid>/stat; the command name may hold spaces and parentheses. */
function readStat(pid: string): { ppid: number; ticks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

export interface ServerCpu {
  /** CPU milliseconds the server's processes have used so far. */
  readMs(): number;
}

/** The server's processes, found from the backend of `client`; undefined when the server is not on this machine. */
export async function locateServerCpu(client: pg.Client): Promise<ServerCpu | undefined> {
  const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
  const backend = pid === undefined ? undefined : readStat(String(pid));
  if (!backend) return undefined;
  // The same pid could belong to an unrelated local process when the server is elsewhere: require a postgres process.
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return undefined;
  } catch {
    return undefined;
  }
  const postmaster = backend.ppid;
  const hz = clockTicks();
  return {
    readMs() {
      let ticks = readStat(String(postmaster))?.ticks ?? 0;
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const stat = readStat(entry);
        if (stat?.ppid === postmaster) ticks += stat.ticks;
      }
      return (ticks * 1000) / hz;
    },
  };
}
