export const REPO_ROOT: string
export const SHARED_CONTRACTS: string
export const COMMITTED_DIR: string
export function extractAll(dir?: string): Record<string, unknown>
export function render(facts: unknown): string
