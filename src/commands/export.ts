export async function exportCommand(_o: unknown): Promise<number> { return 1; }
