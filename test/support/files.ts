// Every regular file under a directory, for the canary searches ("no output, journal or state file
// holds the secret"). Walked by hand, one level at a time: Node 20's readdir({recursive: true,
// withFileTypes: true}) can return an incomplete list, which would make a search pass by missing
// files. Symbolic links are not followed (a link into a plugin cache is not a file idp wrote).
import fs from 'node:fs'
import path from 'node:path'

export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return []
  const out: string[] = []
  const walk = (current: string): void => {
    for (const entry of fs.readdirSync(current, {withFileTypes: true})) {
      const full = path.join(current, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.isFile()) out.push(full)
    }
  }
  walk(dir)
  return out
}

/**
 * Whether a file holds `needle`, compared as bytes: a provider binary of hundreds of MB is searched
 * too, without building a string longer than V8 allows.
 */
export function fileHolds(file: string, needle: string): boolean {
  return fs.readFileSync(file).includes(needle)
}
