/** Finding the command-line tools that scripts/provision.sh installs (PATH, then Go's bin folder). */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

function goBin(): string | null {
  try {
    const gobin = execFileSync('go', ['env', 'GOBIN'], { encoding: 'utf8' }).trim();
    if (gobin) return gobin;
    return join(execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim(), 'bin');
  } catch {
    return join(homedir(), 'go', 'bin');
  }
}

/** Absolute path of `name`, or throws naming the provision step that installs it. */
export function findTool(name: string, installedBy = 'bash scripts/provision.sh'): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), goBin()].filter((d): d is string => !!d);
  for (const d of dirs) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`${name} not found on PATH or in Go's bin folder; install it with: ${installedBy}`);
}

/** Whether `name` runs on this machine (PATH lookup as the shell does it). */
export function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, name)));
}
