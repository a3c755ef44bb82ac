using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;
using Kubefly.Tests.Infrastructure.Registry;
using Kubefly.Tests.Infrastructure.Trust;

namespace Kubefly.Tests.Integration.Trust;

/// <summary>
/// `signedBy` (GPG simple signing) end to end through the binary: keys made by gpg, signatures made by
/// Debian's skopeo (`skopeo copy --sign-by`) into a lookaside directory that a web server on 127.0.0.1
/// serves, found through registries.d as podman finds them.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GpgPolicyTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");
    private readonly TempDirectory _work = new("kubefly-gpg-work");
    private readonly GpgHome _gpg = new();
    private readonly DockerRegistryServer _registry = DockerRegistryServer.StartPlain();
    private readonly StaticFileServer _lookaside;
    private readonly string _key;

    public GpgPolicyTests()
    {
        Directory.CreateDirectory(_work.Combine("sigstore"));
        Directory.CreateDirectory(_work.Combine("skopeo.d"));
        Directory.CreateDirectory(_work.Combine("registries.d"));
        _lookaside = new StaticFileServer(_work.Combine("sigstore"));
        _key = _gpg.GenerateKey("release");
        File.WriteAllBytes(_work.Combine("release.gpg"), _gpg.Export(_key));
        File.WriteAllText(_work.Combine("skopeo.d", "sign.yaml"), $"docker:\n  {_registry.Host}:\n    sigstore-staging: file://{_work.Combine("sigstore")}\n");
        File.WriteAllText(_work.Combine("registries.d", "lookaside.yaml"), $"docker:\n  {_registry.Host}:\n    lookaside: {_lookaside.BaseUrl}\n");
    }

    private string Image => $"{_registry.Host}/gpg/busybox:v1";

    public void Dispose()
    {
        _lookaside.Dispose();
        _registry.Dispose();
        _gpg.Dispose();
        _work.Dispose();
        _state.Dispose();
    }

    [Fact]
    public void An_image_signed_by_skopeo_with_the_trusted_key_is_fetched()
    {
        var manifest = PushSigned(Image, _key);

        var result = Fetch(Policy("release.gpg"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(manifest, Digest.Parse(result.StandardOutput.Trim()));
        Assert.True(_lookaside.Requests >= 2, "the signature came from the lookaside web server (signature-1, then the missing signature-2)");
        var list = Kubefly("image", "list", "--fields=verified", "--no-legend");
        Assert.Contains($"signedBy GPG key {_key}", list.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void An_armored_keyring_and_inline_key_data_work_too()
    {
        PushSigned(Image, _key);
        File.WriteAllBytes(_work.Combine("release.asc"), _gpg.Export(_key, armor: true));
        Assert.True(Fetch(Policy("release.asc")).ExitCode == 0);

        var inline = _work.Combine("inline.json");
        File.WriteAllText(inline, $$"""{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "{{Convert.ToBase64String(_gpg.Export(_key))}}"}]}""");
        var result = Fetch(inline);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public void An_unsigned_image_is_refused_naming_where_the_signature_was_looked_for()
    {
        ProgramRunner.Shell($"skopeo copy -q --dest-tls-verify=false oci:{TestImages.Layout}:{TestImages.Busybox} docker://{Image}");

        var result = Fetch(Policy("release.gpg"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"(transports.docker[\"{_registry.Host}/gpg\"])", result.StandardError, StringComparison.Ordinal);
        Assert.Contains($"there is none at {_lookaside.BaseUrl}/gpg/busybox@sha256=", result.StandardError, StringComparison.Ordinal);
        AssertNothingStored();
    }

    [Fact]
    public void A_signature_by_another_key_is_refused()
    {
        var stranger = _gpg.GenerateKey("stranger");
        PushSigned(Image, stranger);

        var result = Fetch(Policy("release.gpg"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("which is not among the trusted keys", result.StandardError, StringComparison.Ordinal);
        AssertNothingStored();
    }

    [Fact]
    public void A_signature_for_another_tag_is_refused()
    {
        var manifest = PushSigned(Image, _key);
        ProgramRunner.Shell($"skopeo copy -q --src-tls-verify=false --dest-tls-verify=false docker://{Image} docker://{_registry.Host}/gpg/busybox:v2");

        var result = Kubefly($"--policy={Policy("release.gpg")}", "--insecure-options=http", "fetch", $"{_registry.Host}/gpg/busybox:v2");

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"the signature is for {Image}, not {_registry.Host}/gpg/busybox:v2", result.StandardError, StringComparison.Ordinal);
        Assert.NotEqual(default, manifest);
    }

    [Fact]
    public void A_signature_copied_onto_another_digest_is_refused()
    {
        var signed = PushSigned(Image, _key);
        ProgramRunner.Shell($"skopeo copy -q --dest-tls-verify=false oci:{TestImages.Layout}:{TestImages.MultiLayer} docker://{_registry.Host}/gpg/busybox:v1");
        var other = Digest.Compute(System.Text.Encoding.UTF8.GetBytes(ProgramRunner.Shell($"skopeo inspect --raw --tls-verify=false docker://{Image}")));
        var from = _work.Combine("sigstore", "gpg", $"busybox@sha256={signed.Hex}");
        var to = _work.Combine("sigstore", "gpg", $"busybox@sha256={other.Hex}");
        Directory.CreateDirectory(to);
        File.Copy(Path.Combine(from, "signature-1"), Path.Combine(to, "signature-1"));

        var result = Fetch(Policy("release.gpg"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"the signature is for manifest {signed}, not {other}", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void A_flipped_byte_in_the_signature_is_refused()
    {
        var manifest = PushSigned(Image, _key);
        var file = _work.Combine("sigstore", "gpg", $"busybox@sha256={manifest.Hex}", "signature-1");
        var bytes = File.ReadAllBytes(file);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(file, bytes);

        var result = Fetch(Policy("release.gpg"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("signature-1:", result.StandardError, StringComparison.Ordinal);
        AssertNothingStored();
    }

    [Fact]
    public void A_signature_by_an_expired_key_is_refused()
    {
        var expired = _gpg.GenerateKey("expired", expire: "1d", fakedTime: "20200101T000000");
        File.WriteAllBytes(_work.Combine("expired.gpg"), _gpg.Export(expired));
        var manifest = Push(Image);
        WriteSignature(manifest, _gpg.Sign(SimpleSigningPayload(Image, manifest), expired, fakedTime: "20200101T010000"));

        var result = Fetch(Policy("expired.gpg"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("expired on 2020-01-02", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void An_expired_signature_by_a_valid_key_is_refused()
    {
        var old = _gpg.GenerateKey("old", fakedTime: "20200101T000000");
        File.WriteAllBytes(_work.Combine("old.gpg"), _gpg.Export(old));
        var manifest = Push(Image);
        WriteSignature(manifest, _gpg.Sign(SimpleSigningPayload(Image, manifest), old, fakedTime: "20200101T010000", signatureExpiry: "1d"));

        var result = Fetch(Policy("old.gpg"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("the signature expired on 2020-01-02", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void A_signing_subkey_works_until_it_is_revoked()
    {
        var subkey = _gpg.AddSigningSubkey(_key);
        PushSigned(Image, subkey + "!");
        File.WriteAllBytes(_work.Combine("with-subkey.gpg"), _gpg.Export(_key));
        var accepted = Fetch(Policy("with-subkey.gpg"));
        Assert.True(accepted.ExitCode == 0, accepted.ToString());

        _gpg.RevokeSubkey(_key, subkey);
        File.WriteAllBytes(_work.Combine("revoked.gpg"), _gpg.Export(_key));
        var refused = Fetch(Policy("revoked.gpg"));
        Assert.Equal(254, refused.ExitCode);
        Assert.Contains("has been revoked", refused.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_lookaside_store_signedBy_says_where_to_configure_one()
    {
        PushSigned(Image, _key);
        File.Delete(_work.Combine("registries.d", "lookaside.yaml"));

        var result = Fetch(Policy("release.gpg"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("no registries.d file names a lookaside store", result.StandardError, StringComparison.Ordinal);
    }

    private static byte[] SimpleSigningPayload(string reference, Digest manifest) =>
        System.Text.Encoding.UTF8.GetBytes($$$"""{"critical":{"identity":{"docker-reference":"{{{reference}}}"},"image":{"docker-manifest-digest":"{{{manifest}}}"},"type":"atomic container signature"},"optional":{"creator":"kubefly tests"}}""");

    private Digest Push(string reference)
    {
        ProgramRunner.Shell($"skopeo copy -q --dest-tls-verify=false oci:{TestImages.Layout}:{TestImages.Busybox} docker://{reference}");
        return Digest.Compute(System.Text.Encoding.UTF8.GetBytes(ProgramRunner.Shell($"skopeo inspect --raw --tls-verify=false docker://{reference}")));
    }

    private Digest PushSigned(string reference, string key)
    {
        ProgramRunner.Shell($"GNUPGHOME={_gpg.Path} skopeo copy -q --registries.d {_work.Combine("skopeo.d")} --sign-by {key} --dest-tls-verify=false oci:{TestImages.Layout}:{TestImages.Busybox} docker://{reference}");
        return Digest.Compute(System.Text.Encoding.UTF8.GetBytes(ProgramRunner.Shell($"skopeo inspect --raw --tls-verify=false docker://{reference}")));
    }

    private void WriteSignature(Digest manifest, byte[] signature)
    {
        var directory = _work.Combine("sigstore", "gpg", $"busybox@sha256={manifest.Hex}");
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "signature-1"), signature);
    }

    private string Policy(string keyring)
    {
        var path = _work.Combine($"policy-{keyring}.json");
        File.WriteAllText(path, $$$"""
            {
              "default": [{"type": "reject"}],
              "transports": {"docker": {"{{{_registry.Host}}}/gpg": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "{{{_work.Combine(keyring)}}}"}]}}
            }
            """);
        return path;
    }

    private ProcessResult Fetch(string policy) =>
        Kubefly($"--policy={policy}", "--insecure-options=http", "fetch", "--pull-policy=update", Image);

    private void AssertNothingStored()
    {
        var layers = Path.Combine(_state.Path, "images", "layers", "sha256");
        Assert.True(!Directory.Exists(layers) || Directory.GetDirectories(layers).Length == 0, "a refused image's layers were downloaded");
    }

    private ProcessResult Kubefly(params string[] arguments) =>
        KubeflyProcess.Run(["--dir", _state.Path, .. arguments], new Dictionary<string, string?> { ["KUBEFLY_REGISTRIES_D"] = _work.Combine("registries.d") });
}
