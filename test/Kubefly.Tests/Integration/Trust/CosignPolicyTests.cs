using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;
using Kubefly.Tests.Infrastructure.Registry;
using Kubefly.Tests.Infrastructure.Trust;

namespace Kubefly.Tests.Integration.Trust;

/// <summary>
/// `sigstoreSigned` end to end through the binary: images in the Debian docker-registry on 127.0.0.1,
/// keys and signatures made by openssl (never by kubefly), attached at the sha256-HEX.sig tag.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CosignPolicyTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");
    private readonly TempDirectory _keys = new("kubefly-keys");
    private readonly DockerRegistryServer _registry = DockerRegistryServer.StartPlain();
    private readonly RegistryPusher _pusher;
    private readonly string _key;
    private readonly string _otherKey;
    private readonly Digest _manifest;

    public CosignPolicyTests()
    {
        _pusher = _registry.CreatePusher();
        ProgramRunner.Shell($"skopeo copy -q --dest-tls-verify=false oci:{TestImages.Layout}:{TestImages.Busybox} docker://{Image}");
        _manifest = Digest.Compute(System.Text.Encoding.UTF8.GetBytes(ProgramRunner.Shell($"skopeo inspect --raw --tls-verify=false docker://{Image}")));
        _key = CosignAttachments.NewOpensslKey(_keys.Path, "cosign");
        _otherKey = CosignAttachments.NewOpensslKey(_keys.Path, "other");
    }

    private string Image => $"{_registry.Host}/signed/busybox:v1";

    private string Repository => $"{_registry.Host}/signed/busybox";

    public void Dispose()
    {
        _pusher.Dispose();
        _registry.Dispose();
        _keys.Dispose();
        _state.Dispose();
    }

    [Fact]
    public void An_image_signed_by_the_trusted_key_is_fetched_and_recorded_as_verified()
    {
        Attach(CosignAttachments.Payload(Image, _manifest), _key);

        var result = Fetch(Policy("cosign.pub"));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(_manifest, Digest.Parse(result.StandardOutput.Trim()));
        Assert.DoesNotContain("verification has been disabled", result.StandardError, StringComparison.Ordinal);
        Assert.Contains($"{Image}: sigstoreSigned by key file {_keys.Combine("cosign.pub")}", result.StandardError, StringComparison.Ordinal);
        var list = Kubefly("image", "list", "--fields=name,verified", "--no-legend");
        Assert.Contains($"sigstoreSigned by key file {_keys.Combine("cosign.pub")}", list.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unsigned_image_is_refused_before_any_layer_naming_the_scope_and_what_is_missing()
    {
        var result = Fetch(Policy("cosign.pub"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"is refused by the policy {_keys.Combine("policy.json")} (transports.docker[\"{_registry.Host}/signed\"])", result.StandardError, StringComparison.Ordinal);
        Assert.Contains($"none is attached ({Repository}:sha256-{_manifest.Hex}.sig)", result.StandardError, StringComparison.Ordinal);
        AssertNothingStored();
    }

    [Fact]
    public void A_signature_by_another_key_is_refused()
    {
        Attach(CosignAttachments.Payload(Image, _manifest), _otherKey);

        var result = Fetch(Policy("cosign.pub"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("not made by any trusted key", result.StandardError, StringComparison.Ordinal);
        AssertNothingStored();
    }

    [Fact]
    public void A_payload_naming_another_manifest_is_refused()
    {
        var other = Digest.Compute("another manifest"u8.ToArray());
        Attach(CosignAttachments.Payload(Image, other), _key);

        var result = Fetch(Policy("cosign.pub"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"the signature is for manifest {other}, not {_manifest}", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void A_signature_for_another_tag_is_refused_and_a_repository_claim_needs_matchRepository()
    {
        Attach(CosignAttachments.Payload($"{Repository}:v2", _manifest), _key);
        var otherTag = Fetch(Policy("cosign.pub"));
        Assert.Equal(254, otherTag.ExitCode);
        Assert.Contains($"the signature is for {Repository}:v2, not {Image}", otherTag.StandardError, StringComparison.Ordinal);

        // What `cosign sign` writes: the repository alone.
        Attach(CosignAttachments.Payload(Repository, _manifest), _key);
        var bareRepository = Fetch(Policy("cosign.pub"));
        Assert.Equal(254, bareRepository.ExitCode);
        var matchRepository = Fetch(Policy("cosign.pub", """, "signedIdentity": {"type": "matchRepository"}"""));
        Assert.True(matchRepository.ExitCode == 0, matchRepository.ToString());
    }

    [Fact]
    public void A_flipped_byte_in_the_signature_or_the_payload_is_refused()
    {
        var payload = CosignAttachments.Payload(Image, _manifest);
        var signature = Convert.FromBase64String(CosignAttachments.SignWithOpenssl(_key, payload));
        signature[^2] ^= 0x01;
        var alteredPayload = (byte[])payload.Clone();
        alteredPayload[10] ^= 0x01;
        AttachRaw((payload, Convert.ToBase64String(signature)), (alteredPayload, CosignAttachments.SignWithOpenssl(_key, payload)));

        var result = Fetch(Policy("cosign.pub"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("signature 1:", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("signature 2:", result.StandardError, StringComparison.Ordinal);
        AssertNothingStored();
    }

    [Fact]
    public void Of_several_signatures_one_valid_one_is_enough()
    {
        var payload = CosignAttachments.Payload(Image, _manifest);
        AttachRaw(
            (payload, CosignAttachments.SignWithOpenssl(_otherKey, payload)),
            (CosignAttachments.Payload(Image, Digest.Compute("x"u8.ToArray())), CosignAttachments.SignWithOpenssl(_key, payload)),
            (payload, CosignAttachments.SignWithOpenssl(_key, payload)));

        var result = Fetch(Policy("cosign.pub"));

        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public void Insecure_options_image_cannot_stand_in_for_a_signature()
    {
        var result = Fetch(Policy("cosign.pub"), "--insecure-options=image,http");

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("--insecure-options=image is ignored", result.StandardError, StringComparison.Ordinal);
        AssertNothingStored();
    }

    [Fact]
    public void A_stored_image_is_verified_again_when_the_policy_in_force_asks_for_more()
    {
        File.WriteAllText(_keys.Combine("open.json"), """{"default": [{"type": "insecureAcceptAnything"}]}""");
        var fetched = Fetch(_keys.Combine("open.json"));
        Assert.True(fetched.ExitCode == 0, fetched.ToString());

        var refused = Kubefly($"--policy={Policy("cosign.pub")}", "--insecure-options=http", "fetch", "--pull-policy=never", Image);
        Assert.Equal(254, refused.ExitCode);
        Assert.Contains("none is attached", refused.StandardError, StringComparison.Ordinal);

        Attach(CosignAttachments.Payload(Image, _manifest), _key);
        var accepted = Kubefly($"--policy={Policy("cosign.pub")}", "--insecure-options=http", "fetch", "--pull-policy=never", Image);
        Assert.True(accepted.ExitCode == 0, accepted.ToString());
        Assert.Contains("verified again under the policy in force", accepted.StandardError, StringComparison.Ordinal);

        var again = Kubefly($"--policy={Policy("cosign.pub")}", "--insecure-options=http", "fetch", "--pull-policy=never", Image);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.DoesNotContain("verified again", again.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rejected_scope_is_refused_before_any_network_access()
    {
        File.WriteAllText(_keys.Combine("reject.json"), """{"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {"127.0.0.1:1": [{"type": "reject"}]}}}""");

        var result = Kubefly($"--policy={_keys.Combine("reject.json")}", "--insecure-options=http", "fetch", "127.0.0.1:1/nothing/here:v1");

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("127.0.0.1:1/nothing/here:v1 is refused by the policy", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("the policy rejects it (line 1)", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Requirements_kubefly_cannot_check_deny_and_say_so()
    {
        File.WriteAllText(_keys.Combine("fulcio.json"), $$"""{"default": [{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca.pem", "oidcIssuer": "https://x", "subjectEmail": "a@b"}, "rekorPublicKeyPath": "/rekor.pub"}]}""");

        var result = Fetch(_keys.Combine("fulcio.json"));

        Assert.Equal(254, result.ExitCode);
        Assert.Contains("requires Fulcio certificates and Rekor transparency-log entries, which kubefly cannot check", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Image_sign_attaches_a_signature_that_openssl_and_the_policy_both_accept()
    {
        var signed = Kubefly("--insecure-options=http", "image", "sign", $"--key={_key}", Image);
        Assert.True(signed.ExitCode == 0, signed.ToString());
        Assert.Equal(_manifest, Digest.Parse(signed.StandardOutput.Trim()));

        // A second key's signature is added beside the first; signing again adds nothing.
        Assert.True(Kubefly("--insecure-options=http", "image", "sign", $"--key={_otherKey}", Image).ExitCode == 0);
        Assert.True(Kubefly("--insecure-options=http", "image", "sign", $"--key={_key}", Image).ExitCode == 0);
        var attached = System.Text.Json.JsonDocument.Parse(ProgramRunner.Shell($"skopeo inspect --raw --tls-verify=false docker://{Repository}:sha256-{_manifest.Hex}.sig"));
        var layers = attached.RootElement.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(2, layers.Count);

        // Checked independently of kubefly: openssl verifies the first signature over the exact payload.
        var payloadFile = _keys.Combine("payload");
        var signatureFile = _keys.Combine("payload.sig");
        File.WriteAllBytes(payloadFile, BlobBytes(layers[0].GetProperty("digest").GetString()!));
        File.WriteAllBytes(signatureFile, Convert.FromBase64String(layers[0].GetProperty("annotations").GetProperty("dev.cosignproject.cosign/signature").GetString()!));
        Assert.Contains("Verified OK", ProgramRunner.Shell($"openssl dgst -sha256 -verify {_keys.Combine("cosign.pub")} -signature {signatureFile} {payloadFile}"), StringComparison.Ordinal);
        Assert.Contains($"\"docker-reference\":\"{Image}\"", File.ReadAllText(payloadFile), StringComparison.Ordinal);

        Assert.True(Fetch(Policy("cosign.pub")).ExitCode == 0);
        Assert.True(Fetch(Policy("other.pub")).ExitCode == 0);
    }

    [Fact]
    public void Image_sign_refuses_a_public_key_and_a_file_image()
    {
        var publicKey = Kubefly("image", "sign", $"--key={_keys.Combine("cosign.pub")}", Image);
        Assert.Equal(254, publicKey.ExitCode);
        Assert.Contains("not a private key", publicKey.StandardError, StringComparison.Ordinal);

        var layout = Kubefly("image", "sign", $"--key={_key}", TestImages.Reference(TestImages.Busybox));
        Assert.Equal(2, layout.ExitCode);
        Assert.Contains("is not a registry image", layout.StandardError, StringComparison.Ordinal);
    }

    private byte[] BlobBytes(string digest)
    {
        using var http = new HttpClient();
        return http.GetByteArrayAsync($"http://{_registry.Host}/v2/signed/busybox/blobs/{digest}").GetAwaiter().GetResult();
    }

    private string Policy(string key, string identity = "")
    {
        var path = _keys.Combine("policy.json");
        File.WriteAllText(path, $$"""
            {
              "default": [{"type": "reject"}],
              "transports": {
                "docker": {
                  "{{_registry.Host}}/signed": [{"type": "sigstoreSigned", "keyPath": "{{_keys.Combine(key)}}"{{identity}}}]
                }
              }
            }
            """);
        return path;
    }

    private void Attach(byte[] payload, string key) => AttachRaw((payload, CosignAttachments.SignWithOpenssl(key, payload)));

    private void AttachRaw(params (byte[] Payload, string Signature)[] signatures) =>
        CosignAttachments.AttachAsync(_pusher, "signed/busybox", _manifest, signatures).GetAwaiter().GetResult();

    private ProcessResult Fetch(string policy, string insecure = "--insecure-options=http") =>
        Kubefly($"--policy={policy}", insecure, "fetch", "--pull-policy=update", Image);

    private void AssertNothingStored()
    {
        var records = Path.Combine(_state.Path, "images", "records");
        Assert.True(!Directory.Exists(records) || Directory.GetFiles(records).Length == 0, "a refused image left a record");
        var layers = Path.Combine(_state.Path, "images", "layers", "sha256");
        Assert.True(!Directory.Exists(layers) || Directory.GetDirectories(layers).Length == 0, "a refused image's layers were downloaded");
    }

    private ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run(["--dir", _state.Path, .. arguments]);
}
