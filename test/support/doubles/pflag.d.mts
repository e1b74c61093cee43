export class FlagError extends Error {}
export class HelpRequested extends Error {}
export interface FlagFact {
  name: string
  shorthand?: string | null
  type: string
  default: unknown
  hidden?: boolean
  deprecated?: boolean
  deprecationWarning?: string
}
export class FlagSet {
  constructor(flags: FlagFact[])
  values: Record<string, any>
  changed: Set<string>
  warnings: string[]
  parse(argv: string[]): string[]
}
export function parseGoInt(value: string, unsigned?: boolean): {value?: number; error?: string}
export function parseGoDuration(value: string): {value?: number; error?: string}
export function goQuote(value: string): string
export function suggestionsFor(typed: string, names: string[]): string[]
export function renderHelp(useLine: string, flags: FlagFact[]): string
