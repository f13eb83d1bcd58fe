// Types for the test that checks the committed WebAssembly matches its .wat source.
export function assemble(watText: string, name: string): Promise<Buffer>;
export function generated(name: string, bytes: Buffer): string;
