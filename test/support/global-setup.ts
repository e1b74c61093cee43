// Placeholder: the test world (issue 3) puts real helm/kubectl on PATH here.
export default function setup(): void {}
