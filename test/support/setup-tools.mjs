// Placeholder: fetches pinned helm/kubectl binaries (issue 3).
