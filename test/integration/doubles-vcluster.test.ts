import fs from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'
import facts from '../support/doubles/contracts/vcluster.json' with {type: 'json'}
import {type KubeApi, runDouble, startKubeApi, tempDir, vclusterFatalMessage} from '../support/doubles/harness.js'

let api: KubeApi
let dir: string
let kubeconfig: string

async function kubeGet(server: string, apiPath: string): Promise<{status: number; body: any}> {
  const res = await fetch(`${server}${apiPath}`)
  return {status: res.status, body: await res.json()}
}

beforeAll(async () => {
  api = await startKubeApi()
  dir = tempDir('idp-vcluster-double-')
  kubeconfig = api.kubeconfig()
})

afterAll(async () => {
  await api?.stop()
  fs.rmSync(dir, {recursive: true, force: true})
})

const vc = (args: string[]) => runDouble('vcluster', args, {KUBECONFIG: kubeconfig})

function expectFatal(result: {code: number | null; stdout: string; stderr: string}, message: string) {
  expect(result.code).toBe(1)
  expect(result.stdout).toBe('')
  // One coloured loft-sh/log line: "\e[0;1;37mHH:MM:SS \e[0m\e[0;1;31mfatal \e[0m<message>\n"
  const esc = String.fromCharCode(27)
  expect(result.stderr.startsWith(`${esc}[0;1;37m`)).toBe(true)
  expect(result.stderr.replaceAll(esc, 'ESC')).toMatch(/^ESC\[0;1;37m\d{2}:\d{2}:\d{2} ESC\[0mESC\[0;1;31mfatal ESC\[0m/u)
  expect(vclusterFatalMessage(result.stderr, facts.errors.lineRegex)).toBe(message)
}

// Each run is its own process and these touch no cluster state, so they run side by side.
describe.concurrent('vcluster double: flag and argument errors (real texts)', () => {
  it('rejects an unknown flag on stderr with exit 1 and no "Error:" prefix', async () => {
    expectFatal(await vc(['create', 'demo', '--foo']), 'unknown flag: --foo')
  })

  it('rejects an unknown shorthand', async () => {
    expectFatal(await vc(['list', '-x']), "unknown shorthand flag: 'x' in -x")
  })

  it('reports a missing name with the pkg/cli/util/args.go text', async () => {
    expectFatal(await vc(['delete']), 'vcluster delete VCLUSTER_NAME [flags]\nInvalid Args: received 0 arguments, expected 1, please specify missing: "VCLUSTER_NAME"\nRun with --help for more details on arguments')
  })

  it('rejects a bad int value with Go strconv text', async () => {
    expectFatal(await vc(['connect', 'demo', '--local-port', 'abc']), 'invalid argument "abc" for "--local-port" flag: strconv.ParseInt: parsing "abc": invalid syntax')
  })

  it('treats `--bool false` as a positional argument (pflag quirk)', async () => {
    // `--connect false` sets connect=true and makes "false" a second name → too many arguments
    expectFatal(await vc(['create', 'demo', '--connect', 'false']), 'vcluster create VCLUSTER_NAME [flags]\nInvalid Args: received 2 arguments, expected 1, extra arguments: "false"\nRun with --help for more details on arguments')
  })

  it('needs a value for a string flag', async () => {
    const [long, short] = await Promise.all([vc(['list', '--namespace']), vc(['list', '-n'])])
    expectFatal(long, 'flag needs an argument: --namespace')
    expectFatal(short, "flag needs an argument: 'n' in -n")
  })

  it('warns about a deprecated flag on stderr and still runs', async () => {
    const [result, dep] = await Promise.all([vc(['list', '--output', 'json', '--debug', '--silent']), vc(['connect', '--kube-config', 'x.yaml'])])
    expect(result.code).toBe(0)
    expect(dep.stderr.split('\n')[0]).toBe('Flag --kube-config has been deprecated, please use "vcluster connect --print" to write the kubeconfig of the virtual cluster to stdout.')
    expect(dep.code).toBe(1) // and then the missing name is reported
  })

  it('prints the version and help', async () => {
    const [version, help] = await Promise.all([vc(['--version']), vc(['create', '--help'])])
    expect(version).toEqual({code: 0, stdout: `vcluster version ${facts.version.latestTagInSnapshot.replace(/^v/u, '')}\n`, stderr: ''})
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('vcluster create VCLUSTER_NAME [flags]')
  })

  it('suggests a command for a typo', async () => {
    expectFatal(await vc(['lst']), 'unknown command "lst" for "vcluster"\n\nDid you mean this?\n\tlist\n')
  })

  it('rejects platform-only flags with the helm driver and invalid drivers', async () => {
    const [platform, driver] = await Promise.all([vc(['create', 'demo', '--project', 'p']), vc(['list', '--driver', 'x'])])
    expectFatal(platform, "Following platform flags have been set, which won't have any effect when using driver type helm: --project")
    expectFatal(driver, 'parse driver type: invalid driver type: "x", only "helm", "platform" or "docker" are valid')
  })
})

describe('vcluster double: lifecycle against a Kubernetes API', () => {
  it('create → list → connect --print → pause/resume → delete → list null', async () => {
    const empty = await vc(['list', '--output', 'json'])
    expect(empty).toEqual({code: 0, stdout: 'null\n', stderr: ''})

    const values = path.join(dir, 'values.yaml')
    fs.writeFileSync(values, 'controlPlane:\n  distro:\n    k8s:\n      enabled: true\n')
    const created = await vc(['create', 'demo', '--connect=false', '--values', values, '--chart-version', '0.37.0'])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toContain('Successfully created virtual cluster demo in namespace vcluster-demo')

    // Discoverable on the host the way the helm driver leaves it.
    const sts = await kubeGet(api.hostUrl, '/apis/apps/v1/namespaces/vcluster-demo/statefulsets/demo')
    expect(sts.status).toBe(200)
    expect(sts.body.metadata.labels).toMatchObject({app: 'vcluster', release: 'demo'})
    expect((await kubeGet(api.hostUrl, '/api/v1/namespaces/vcluster-demo/secrets/vc-demo')).status).toBe(200)

    const again = await vc(['create', 'demo', '--connect=false'])
    expectFatal(again, 'vcluster demo already exists in namespace vcluster-demo\n- Use `vcluster create demo -n vcluster-demo --upgrade` to upgrade the vcluster\n- Use `vcluster connect demo -n vcluster-demo` to access the vcluster')
    expect((await vc(['create', 'demo', '--connect=false', '--upgrade', '--chart-version', '0.37.0'])).code).toBe(0)

    const listed = await vc(['list', '--output', 'json'])
    expect(listed.code).toBe(0)
    const rows = JSON.parse(listed.stdout)
    expect(rows).toHaveLength(1)
    expect(Object.keys(rows[0])).toEqual(facts.outputs.listJson.fields.map((f) => f.json))
    expect(rows[0]).toMatchObject({Name: 'demo', Namespace: 'vcluster-demo', Version: '0.37.0', Status: 'Running', Connected: false})
    expect(listed.stdout).toContain('\n    {\n        "Created"') // 4-space indent
    expect((await vc(['list', '--output', 'json', '--silent'])).stdout).toBe('')

    const connected = await vc(['connect', 'demo', '-n', 'vcluster-demo', '--print'])
    expect(connected.code, connected.stderr).toBe(0)
    const docs = parseAllDocuments(connected.stdout)
    expect(docs).toHaveLength(1)
    const printed = docs[0]?.toJSON()
    expect(Object.keys(printed)).toEqual(facts.outputs.connectPrint.keys)
    expect(printed['current-context']).toBe('vcluster_demo_vcluster-demo_host')

    // The printed kubeconfig reaches the virtual cluster, whose store is isolated from the host.
    const server: string = printed.clusters[0].cluster.server
    expect(server).not.toBe(api.hostUrl)
    expect((await kubeGet(server, '/version')).status).toBe(200)
    const res = await fetch(`${server}/api/v1/namespaces`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'inside-only'}})})
    expect(res.status).toBe(201)
    expect((await kubeGet(server, '/api/v1/namespaces/inside-only')).status).toBe(200)
    expect((await kubeGet(api.hostUrl, '/api/v1/namespaces/inside-only')).status).toBe(404)

    const vcKubeconfig = path.join(dir, 'vc.kubeconfig')
    fs.writeFileSync(vcKubeconfig, connected.stdout)
    const viaServerFlag = await vc(['connect', 'demo', '--print', '--server', 'vc.example.test:8443'])
    expect(parseAllDocuments(viaServerFlag.stdout)[0]?.toJSON().clusters[0].cluster.server).toBe('https://vc.example.test:8443')

    expect((await vc(['pause', 'demo', '-n', 'vcluster-demo'])).code).toBe(0)
    expect(JSON.parse((await vc(['list', '--output', 'json'])).stdout)[0].Status).toBe('Paused')
    expect((await kubeGet(api.hostUrl, '/apis/apps/v1/namespaces/vcluster-demo/statefulsets/demo')).body.spec.replicas).toBe(0)
    expect((await vc(['resume', 'demo', '-n', 'vcluster-demo'])).code).toBe(0)
    expect(JSON.parse((await vc(['list', '--output', 'json'])).stdout)[0].Status).toBe('Running')

    const deleted = await vc(['delete', 'demo', '-n', 'vcluster-demo'])
    expect(deleted.code, deleted.stderr).toBe(0)
    // the namespace was created by the CLI, so --auto-delete-namespace (default true) removes it
    expect((await kubeGet(api.hostUrl, '/api/v1/namespaces/vcluster-demo')).status).toBe(404)
    expect((await kubeGet(server, '/version')).status).toBe(404)
    expect(await vc(['list', '--output', 'json'])).toEqual({code: 0, stdout: 'null\n', stderr: ''})
    expectFatal(await vc(['delete', 'demo', '-n', 'vcluster-demo']), "couldn't find vcluster demo")
    expect((await vc(['delete', 'demo', '--ignore-not-found'])).code).toBe(0)
  })

  it('keeps a namespace it did not create unless --delete-namespace', async () => {
    await fetch(`${api.hostUrl}/api/v1/namespaces`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'team-a'}})})
    expect((await vc(['create', 'one', '-n', 'team-a', '--connect=false'])).code).toBe(0)
    expect((await vc(['create', 'two', '-n', 'team-a', '--connect=false'])).code).toBe(0)
    expect((await vc(['delete', 'one', '-n', 'team-a'])).code).toBe(0)
    expect((await kubeGet(api.hostUrl, '/api/v1/namespaces/team-a')).status).toBe(200)
    expect((await vc(['delete', 'two', '-n', 'team-a', '--delete-namespace'])).code).toBe(0)
    expect((await kubeGet(api.hostUrl, '/api/v1/namespaces/team-a')).status).toBe(404)
  })
})
