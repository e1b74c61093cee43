export const TEMPLATES_DIR: string
export const SHARED_DIR: string
export const SYNC_COMMAND: string
export const OWNED_DIRS: readonly string[]
export function sharedFiles(templatesDir?: string): string[]
export function templateNames(templatesDir?: string): string[]
/** package.json's name@version: the idp release every bundled template pins. */
export function idpPackage(root?: string): string
export function checkTemplates(templatesDir?: string, wanted?: string): string[]
export function syncTemplates(templatesDir?: string, wanted?: string): string[]
