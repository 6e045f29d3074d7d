/** Reading a process's CPU time and memory from /proc (Linux), for the server under test. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS = 100;

/** User and system (kernel) CPU seconds of a process so far: utime and stime of /proc/<pid>/stat. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at field 3.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(rest[11]) / CLOCK_TICKS, system: Number(rest[12]) / CLOCK_TICKS };
}

/** User + system CPU seconds of a process so far. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** Resident set size, bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** This process's soft limit on open file descriptors (ulimit -n). */
export function fdLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const m = /Max open files\s+(\d+)/.exec(limits);
  return m ? Number(m[1]) : 0;
}

/**
 * Raises a process's open-file limit (soft and hard) to at least `n` with prlimit(1), as a
 * production unit file's LimitNOFILE would. Raising the hard limit needs CAP_SYS_RESOURCE, which
 * root in a container may not hold: refused, the soft limit goes up to the hard one, which is
 * enough when `n` fits under it. Throws, naming both limits, when `n` cannot be had.
 */
export function raiseFdLimit(pid: number, n: number): void {
  const cur = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const m = /Max open files\s+(\d+)\s+(\d+)/.exec(cur);
  if (m && Number(m[1]) >= n) return;
  const hard = Number(m?.[2] ?? n);
  const prlimit = (soft: number, max: number): string | null => {
    const r = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:${max}`], { encoding: 'utf8' });
    return r.status === 0 ? null : (r.stderr || r.error?.message || `exit ${r.status}`).trim();
  };
  if (n > hard) {
    const refused = prlimit(n, n);
    if (refused === null) return;
    throw new Error(`needs ${n} open files; the hard limit is ${hard} and raising it was refused (prlimit: ${refused})`);
  }
  const refused = prlimit(n, hard);
  if (refused !== null) throw new Error(`prlimit --pid ${pid} --nofile=${n}:${hard}: ${refused}`);
}

/** `pid` and its descendants (a `--workers N` gateway is a primary and N workers), from /proc/<pid>/stat's ppid. */
export function processTree(pid: number): number[] {
  const parentOf = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = parentOf.get(ppid);
    if (list) list.push(Number(d));
    else parentOf.set(ppid, [Number(d)]);
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(parentOf.get(out[i]!) ?? []));
  return out;
}

const sumOver = (pid: number, f: (p: number) => number): number =>
  processTree(pid).reduce((a, p) => {
    try {
      return a + f(p);
    } catch {
      return a; // exited meanwhile
    }
  }, 0);

/** CPU seconds of a process and its descendants so far. */
export const treeCpuSeconds = (pid: number): number => sumOver(pid, cpuSeconds);
/**
 * User and system (kernel: its socket writes and, on loopback, the peer's receive path they run)
 * CPU seconds of a process and its descendants so far, from one walk of the process tree.
 */
export function treeCpuTimes(pid: number): { user: number; system: number } {
  const sum = { user: 0, system: 0 };
  for (const p of processTree(pid)) {
    try {
      const t = cpuTimes(p);
      sum.user += t.user;
      sum.system += t.system;
    } catch {
      // exited meanwhile
    }
  }
  return sum;
}
/** RSS of a process and its descendants, bytes. */
export const treeRssBytes = (pid: number): number => sumOver(pid, rssBytes);
