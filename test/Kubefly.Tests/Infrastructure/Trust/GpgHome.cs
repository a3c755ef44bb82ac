using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Infrastructure.Trust;

/// <summary>
/// A private GnuPG home with keys made by gpg itself (never by kubefly), for signing as skopeo and gpg
/// do. Its agent is stopped and the directory removed on dispose.
/// </summary>
public sealed class GpgHome : IDisposable
{
    public GpgHome()
    {
        // gpg-agent's socket path must stay short: a directory directly under /tmp.
        Path = TestPorts.NewTempDirectory("gpg");
        File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public string Path { get; }

    public Dictionary<string, string?> Environment => new() { ["GNUPGHOME"] = Path };

    /// <summary>A new primary key (signing), optionally made at a faked time with an expiry; returns its fingerprint.</summary>
    public string GenerateKey(string name, string algorithm = "ed25519", string expire = "never", string? fakedTime = null)
    {
        Gpg($"{Faked(fakedTime)} --quick-gen-key '{name} <{name}@kubefly.invalid>' {algorithm} sign {expire}");
        return Fingerprint(name);
    }

    /// <summary>Adds a signing subkey to <paramref name="primary"/>; returns the subkey's fingerprint.</summary>
    public string AddSigningSubkey(string primary)
    {
        Gpg($"--quick-add-key {primary} ed25519 sign never");
        var lines = Gpg($"--with-colons --list-keys {primary}").Split('\n');
        return lines.Where(l => l.StartsWith("fpr:", StringComparison.Ordinal)).Select(l => l.Split(':')[9]).Last();
    }

    /// <summary>Revokes the subkey with <paramref name="subkeyFingerprint"/> (gpg's interactive editor, driven from stdin).</summary>
    public void RevokeSubkey(string primary, string subkeyFingerprint)
    {
        var fingerprints = Gpg($"--with-colons --list-keys {primary}").Split('\n').Where(l => l.StartsWith("fpr:", StringComparison.Ordinal)).Select(l => l.Split(':')[9]).ToList();
        var index = fingerprints.IndexOf(subkeyFingerprint);
        ProgramRunner.Shell($"printf 'key {index}\\nrevkey\\ny\\n0\\n\\ny\\nsave\\n' | GNUPGHOME={Path} gpg --batch --yes --pinentry-mode loopback --passphrase '' --command-fd 0 --status-fd 2 --edit-key {primary} 2>/dev/null");
    }

    public byte[] Export(string fingerprint, bool armor = false)
    {
        var file = System.IO.Path.Combine(Path, $"export-{Guid.NewGuid():N}");
        Gpg($"{(armor ? "--armor " : string.Empty)}--output {file} --export {fingerprint}");
        var bytes = File.ReadAllBytes(file);
        File.Delete(file);
        return bytes;
    }

    /// <summary>An OpenPGP signed message over <paramref name="payload"/>, as skopeo's simple signing writes it.</summary>
    public byte[] Sign(byte[] payload, string fingerprint, string? fakedTime = null, string? signatureExpiry = null)
    {
        var input = System.IO.Path.Combine(Path, $"payload-{Guid.NewGuid():N}");
        File.WriteAllBytes(input, payload);
        Gpg($"{Faked(fakedTime)} {(signatureExpiry is null ? string.Empty : $"--default-sig-expire {signatureExpiry} ")}--local-user {fingerprint}! --output {input}.sig --sign {input}");
        var signature = File.ReadAllBytes(input + ".sig");
        File.Delete(input);
        File.Delete(input + ".sig");
        return signature;
    }

    public string Gpg(string arguments) =>
        ProgramRunner.Shell($"GNUPGHOME={Path} gpg --batch --yes --quiet --pinentry-mode loopback --passphrase '' {arguments} 2>&1");

    public void Dispose()
    {
        ProgramRunner.Run("gpgconf", ["--kill", "all"], Environment);
        TestPorts.DeleteDirectory(Path);
    }

    private static string Faked(string? time) => time is null ? string.Empty : $"--faked-system-time {time}!";

    private string Fingerprint(string name) =>
        Gpg($"--with-colons --list-keys '{name}@kubefly.invalid'").Split('\n').First(l => l.StartsWith("fpr:", StringComparison.Ordinal)).Split(':')[9];
}
