# Attesters: AWS KMS keys (secp256k1, sign/verify) whose private halves never leave KMS. The API
# signs attestations and mint requests with them (EIP-712 digests, kms:Sign with MessageType
# DIGEST) and learns each key's address from two signatures, so its role needs kms:Sign and
# nothing else. Pipeline runs (the worker) hold no key: they send the unsigned document to the
# API at HOKUSAI_SIGNER_URL. With attester_keys = 0 (development by default) the API keeps the
# development-style signer key from Secrets Manager instead (secrets.tf).

locals {
  attester_count   = coalesce(var.attester_keys, var.environment == "development" ? 0 : 1)
  kms_attesters    = local.attester_count > 0
  attester_aliases = [for i in range(local.attester_count) : "alias/${local.name}-attester-${i + 1}"]
}

resource "aws_kms_key" "attester" {
  count = local.attester_count

  description              = "Hokusai ${var.environment} attester ${count.index + 1}: signs attestations and mint requests (EIP-712)"
  customer_master_key_spec = "ECC_SECG_P256K1"
  key_usage                = "SIGN_VERIFY"
  deletion_window_in_days  = 30 # an attester's address is registered on-chain: deleting it is never quick
  policy                   = data.aws_iam_policy_document.attester_key.json
}

resource "aws_kms_alias" "attester" {
  count = local.attester_count

  name          = local.attester_aliases[count.index]
  target_key_id = aws_kms_key.attester[count.index].key_id
}

# Key policy of every attester key: the account administers it (IAM can manage, describe, read
# the public key, schedule deletion) but cannot sign with it; only the API's task role signs.
data "aws_iam_policy_document" "attester_key" {
  statement {
    sid = "AccountAdministersButDoesNotSign"
    actions = [
      "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
      "kms:EnableKey", "kms:GetKeyPolicy", "kms:GetPublicKey", "kms:ListAliases", "kms:ListGrants",
      "kms:ListKeyPolicies", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RevokeGrant",
      "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias",
      "kms:UpdateKeyDescription", "kms:Verify",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "ApiSignsOnly"
    actions   = ["kms:Sign"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.api_task.arn]
    }
  }
}
