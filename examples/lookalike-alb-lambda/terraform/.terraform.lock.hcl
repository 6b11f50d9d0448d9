# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/aws" {
  version     = "6.22.1"
  constraints = "~> 6.0"
  hashes = [
    "h1:WFxMD9XMua3PxANfFqc2lbeB0wkeokgAm2u21+xKkFg=",
    "h1:o/GyyOHZTZYxFNAD8cOtgWYguSNaG6WDPcN5hYadwA0=",
    "zh:14a0ad186414b4a02d5288e2be425277fa630f5880a6f80ce193807a5a168698",
    "zh:1bf47ee06b2066be108be68261564af8d67a405bd9b524540cffb640e722008b",
    "zh:480f6272ab2a9925717246db995d501d3ba901c824ddcd9b93b96f22e9c77009",
    "zh:571a629cb922d15fd748dfd23e32f44b4407c8f4a229796d9ad4f0ff3b4fa4cd",
    "zh:627c441cbd72d5d07c600e58092cfa4391423ae56fd620c95e01e71382990dc7",
    "zh:706c7571ddeb9cf4642a8ba2ded27f9f139fc89206cfc1a734ae8510e0c56894",
    "zh:7be9f6daeb819135a48b801f05334cc9f98a3d47d70e04ac85f85b4c9079a5cd",
    "zh:8e069fb23702362047975f05443ba6a13c5bcbf87676cec9f13e41bdbe2b0daa",
    "zh:cbe6e1eeffab1303a655dcf53ab052eecd39179e55812d9e4e82f53d7a8ea99f",
    "zh:d816827263339684c90827ef839773155b0fe2234ef17383b8ce6dbe7dc25e31",
    "zh:d927e73353ed1550ebae47cdb87307bab70f6e4683c3aefff793d5e5ea9a741b",
    "zh:ef4fcfe45c960e4f32ef1e804de2f7c6f4473523d5e3c85979e32ff1fa0fa3b8",
  ]
}
