export async function importCommand(_f: string, _o: unknown): Promise<number> { return 1; }
