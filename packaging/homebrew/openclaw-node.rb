# Homebrew formula for openclaw-node: builds from source with cargo and installs the
# binary; `openclaw-node install` then writes the LaunchAgent for the current user.
class OpenclawNode < Formula
  desc "Node host for the OpenClaw Gateway: pairs once, dials out, runs what you allow"
  homepage "https://github.com/openclaw/openclaw-node"
  url "https://github.com/openclaw/openclaw-node/archive/refs/tags/v0.1.0.tar.gz"
  # Fill in with the release tarball's checksum when tagging:
  #   curl -L <url> | shasum -a 256
  sha256 "REPLACE_WITH_RELEASE_TARBALL_SHA256"
  license any_of: ["MIT", "Apache-2.0"]
  head "https://github.com/openclaw/openclaw-node.git", branch: "main"

  depends_on "rust" => :build

  def install
    # The default features are every capability (browser, screen, camera); on macOS they
    # need only system frameworks. Keep it that way: no --no-default-features here.
    system "cargo", "install", *std_cargo_args
  end

  def caveats
    <<~EOS
      Pair this Mac with your Gateway, then run it as a LaunchAgent:
        openclaw-node pair <setup code>
        openclaw-node install && openclaw-node start
    EOS
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/openclaw-node --version")
    assert_match "device id", shell_output("#{bin}/openclaw-node --state-dir #{testpath} --credential-store file identity")
  end
end
