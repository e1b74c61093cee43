export interface FakeKube {
  url: string
  hostUrl: string
  clusterIds(): string[]
  stop(): Promise<void>
}
export function startFakeKube(): Promise<FakeKube>
