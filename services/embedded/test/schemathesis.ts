import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The schemathesis release the tests run (PyPI), kept in a venv in the user cache like moto. */
export const schemathesisVersion = '4.32.5';

/**
 * The python of a venv holding schemathesis, installed on first use into
 * `$FACEWATCH_CACHE` (default ~/.cache/facewatch)/schemathesis-<version>/venv. It is built in a
 * folder of its own and renamed into place, so runs that start together never share a half
 * installed one (the loser throws its copy away).
 */
export async function schemathesisPython(): Promise<string> {
  const cache = process.env['FACEWATCH_CACHE'] ?? join(homedir(), '.cache', 'facewatch');
  const dir = join(cache, `schemathesis-${schemathesisVersion}`);
  const python = join(dir, 'venv', 'bin', 'python');
  if (existsSync(join(dir, '.complete'))) return python;
  mkdirSync(cache, { recursive: true });
  const partial = `${dir}.partial-${process.pid}-${Date.now()}`;
  try {
    await run(process.env['PYTHON'] ?? 'python3', ['-m', 'venv', join(partial, 'venv')], { timeout: 120_000 });
    await run(join(partial, 'venv', 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--no-input', '--disable-pip-version-check', `schemathesis==${schemathesisVersion}`], {
      timeout: 600_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    // the venv's python works from its new place (scripts with absolute shebangs are not used)
    await run(join(partial, 'venv', 'bin', 'python'), ['-c', 'import schemathesis.cli'], { timeout: 60_000 });
    writeFileSync(join(partial, '.complete'), `${schemathesisVersion}\n`);
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    if (existsSync(join(dir, '.complete'))) return python;
    throw new Error(`could not install schemathesis ${schemathesisVersion} into ${dir} (needs python3 with venv and pip, and PyPI): ${(err as Error).message}`);
  }
  return python;
}

/** One kind of failure schemathesis found (its JSON report's `failures`). */
export interface SchemathesisFailure {
  type: string;
  code: string;
  title: string;
  count: number;
  operations: string[];
}

export interface SchemathesisReport {
  schemathesis_version: string;
  seed: number;
  running_time: number;
  complete: boolean;
  exit_code: number;
  test_cases: { generated: number; with_failures: number; unique_failures: number; errored: number };
  operations: { total: number; selected: number; tested: number; errored: number };
  failures: SchemathesisFailure[];
  errors: unknown[];
}

/** Runs `schemathesis run <args>` with the venv's python; resolves with its output whatever its exit code. */
export async function runSchemathesis(python: string, args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  const script = "import sys\nfrom schemathesis.cli import schemathesis\nsys.argv[0] = 'schemathesis'\nsys.exit(schemathesis())";
  try {
    const { stdout, stderr } = await run(python, ['-c', script, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; killed?: boolean };
    if (e.killed) throw new Error(`schemathesis did not finish within ${timeoutMs} ms:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}
