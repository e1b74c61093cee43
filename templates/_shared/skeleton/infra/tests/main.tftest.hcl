# Runs offline: the AWS provider is mocked, so no credentials or network are needed.
mock_provider "aws" {}

variables {
  service = "${{ values.name }}"
}

run "staging_bucket_is_named_and_tagged_per_environment" {
  command = plan

  variables {
    env  = "staging"
    tags = { "cost-center" = "1234", "managed-by" = "someone-else" }
  }

  assert {
    condition     = aws_s3_bucket.this.bucket == "${{ values.name }}-staging"
    error_message = "bucket must be named <service>-<env>"
  }

  assert {
    condition     = aws_s3_bucket.this.tags["service"] == "${{ values.name }}" && aws_s3_bucket.this.tags["env"] == "staging"
    error_message = "bucket must carry service and env tags"
  }

  assert {
    condition     = aws_s3_bucket.this.tags["managed-by"] == "idp" && aws_s3_bucket.this.tags["cost-center"] == "1234"
    error_message = "managed-by must be idp and extra tags must be kept"
  }

  assert {
    condition     = aws_s3_bucket.this.force_destroy == false
    error_message = "long-lived buckets must not be force-destroyed"
  }

  assert {
    condition     = one(aws_s3_bucket_versioning.this.versioning_configuration).status == "Enabled"
    error_message = "staging must keep object versions"
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "public access must be blocked"
  }

  assert {
    condition     = output.bucket_name == "${{ values.name }}-staging"
    error_message = "bucket_name output must be the bucket's name"
  }
}

run "preview_bucket_is_disposable" {
  command = plan

  variables {
    env = "pr-42"
  }

  assert {
    condition     = aws_s3_bucket.this.bucket == "${{ values.name }}-pr-42"
    error_message = "preview bucket must be named <service>-pr-<number>"
  }

  assert {
    condition     = aws_s3_bucket.this.force_destroy
    error_message = "preview buckets must be deletable when not empty"
  }

  assert {
    condition     = one(aws_s3_bucket_versioning.this.versioning_configuration).status == "Disabled"
    error_message = "preview buckets do not keep versions"
  }
}

run "rejects_an_environment_name_that_is_not_a_dns_label" {
  command = plan

  variables {
    env = "Pr_42"
  }

  expect_failures = [var.env]
}

run "rejects_a_bucket_name_longer_than_s3_allows" {
  command = plan

  variables {
    service = "a-service-name-that-is-long-enough-to-break-the-limit-alone"
    env     = "production"
  }

  expect_failures = [aws_s3_bucket.this]
}
