import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/**', 'test/fixtures/templates/**', 'test/fixtures/**/chart/**', 'node_modules/**', '.tools/**', 'templates/**', 'coverage/**', 'oclif.manifest.json', 'bench/results.json']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {globals: {process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', structuredClone: 'readonly', setImmediate: 'readonly'}},
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'}],
      'no-empty': ['error', {allowEmptyCatch: true}],
    },
  },
  {
    // bin/run.js is CommonJS (bin/package.json): a script starts faster than an ES module.
    files: ['bin/run.js'],
    languageOptions: {sourceType: 'commonjs', globals: {require: 'readonly', __dirname: 'readonly'}},
    rules: {'@typescript-eslint/no-require-imports': 'off'},
  },
  {
    // Start-up discipline (issue 6): heavy modules only inside run() or lib factories.
    files: ['src/commands/**/*.ts', 'src/lib/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {paths: ['@kubernetes/client-node', '@octokit/rest', '@inquirer/prompts', 'listr2', 'execa'].map((name) => ({name, message: 'Import heavy modules lazily (await import) inside run() or a lib factory.', allowTypeImports: true}))}],
    },
  },
)
