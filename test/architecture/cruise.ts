/**
 * Runs dependency-cruiser with the project's own rules (`.dependency-cruiser.mjs`, what
 * `npm run lint:arrows` runs) on a tree: the real one, or a fixture written to a temp folder.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cruise, type ICruiseResult, type IConfiguration } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

export const root = fileURLToPath(new URL('../../..', import.meta.url));

/** The configuration `npm run lint:arrows` reads. */
export async function projectConfig(): Promise<IConfiguration> {
  return ((await import(pathToFileURL(`${root}/.dependency-cruiser.mjs`).href)) as { default: IConfiguration }).default;
}

/** The graph of `dirs` under `baseDir`, validated against the project's rules (no baseline). */
export async function cruiseTree(baseDir: string, dirs: readonly string[]): Promise<ICruiseResult> {
  const config = await projectConfig();
  const { tsConfig, ...options } = config.options ?? {};
  const result = await cruise(
    [...dirs],
    { ...options, ruleSet: { forbidden: config.forbidden ?? [] }, validate: true, baseDir, outputType: 'json' },
    {},
    { tsConfig: extractTSConfig(`${root}/${tsConfig?.fileName ?? 'tsconfig.json'}`) },
  );
  return (typeof result.output === 'string' ? JSON.parse(result.output) : result.output) as ICruiseResult;
}
