module github.com/${{ values.repoOwner }}/${{ values.repoName }}

go 1.22
