export const ACTION_ROOT: string
export class ActionError extends Error {
  constructor(message: string, exitCode?: number)
  exitCode: number
}
export function getInput(env: Record<string, string | undefined>, name: string): string
export function splitCommand(text: string): string[]
export function commandArgs(command: string): string[]
export function packageSpec(env: Record<string, string | undefined>, root?: string): {name: string; version: string; spec: string; own: boolean}
export function builtCli(root?: string): string | undefined
export function escapeData(value: unknown): string
export function escapeProperty(value: unknown): string
export function displayArg(arg: string): string
export function logUntrusted(lines: Iterable<unknown>, write?: (line: string) => void): void
export function formatOutputs(outputs: Record<string, string | number | undefined | null>): string
export function resultOutputs(envelope: unknown, resultFile: string): Record<string, string | number | undefined>
export function main(env?: Record<string, string | undefined>): Promise<number>
