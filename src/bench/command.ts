export async function benchCommand(_argv: readonly string[]): Promise<number> {
  return 0;
}
