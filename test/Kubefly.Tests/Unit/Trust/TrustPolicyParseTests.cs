using System.Text;
using Kubefly.Oci;
using Kubefly.Trust;
using Kubefly.Trust.Policy;

namespace Kubefly.Tests.Unit.Trust;

/// <summary>
/// policy.json is read strictly: each case is a file a person could write by mistake (or an attacker
/// could plant to weaken the policy), and each must reject the whole file naming the line and the key.
/// </summary>
public sealed class TrustPolicyParseTests
{
    private const string Path = "/etc/containers/policy.json";

    public static TheoryData<string, string, int, string> BadPolicies => new()
    {
        { "UnknownTopLevelKey", "{\n \"default\": [{\"type\": \"reject\"}],\n \"defualt\": []\n}", 3, "unknown key \"defualt\"" },
        { "DuplicateDefault", "{\n \"default\": [{\"type\": \"reject\"}],\n \"default\": [{\"type\": \"insecureAcceptAnything\"}]\n}", 3, "duplicate key \"default\"" },
        { "MissingDefault", "{\n \"transports\": {}\n}", 1, "no \"default\"" },
        { "UnknownRequirementType", "{\"default\": [\n {\"type\": \"signedByAnyone\"}\n]}", 2, "unknown requirement type \"signedByAnyone\"" },
        { "RequirementWithoutType", "{\"default\": [\n {}\n]}", 2, "no \"type\"" },
        { "ExtraKeyInReject", "{\"default\": [\n {\"type\": \"reject\", \"except\": \"me\"}\n]}", 2, "unknown key \"except\"" },
        { "DefaultNotAnArray", "{\"default\": {\"type\": \"reject\"}}", 1, "must be an array" },
        { "UnknownTransport", "{\"default\": [],\n \"transports\": {\n  \"dockr\": {}\n }\n}", 3, "unknown transport \"dockr\"" },
        { "InvalidDockerScope", "{\"default\": [], \"transports\": {\"docker\": {\n \"Not A Scope\": [{\"type\": \"reject\"}]\n}}}", 2, "scope \"Not A Scope\"" },
        { "InvalidWildcard", "{\"default\": [], \"transports\": {\"docker\": {\n \"*example.com\": []\n}}}", 2, "not a registry host" },
        { "RelativeOciScope", "{\"default\": [], \"transports\": {\"oci\": {\n \"layouts/x\": []\n}}}", 2, "must be an absolute path" },
        { "SignedByWithoutKeyType", "{\"default\": [\n {\"type\": \"signedBy\", \"keyPath\": \"/k.gpg\"}\n]}", 2, "no \"keyType\"" },
        { "SignedByUnknownKeyType", "{\"default\": [\n {\"type\": \"signedBy\", \"keyType\": \"PGP\", \"keyPath\": \"/k.gpg\"}\n]}", 2, "unknown keyType \"PGP\"" },
        { "SignedByTwoKeySources", "{\"default\": [\n {\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/k.gpg\", \"keyData\": \"AAAA\"}\n]}", 2, "exactly one of keyPath, keyPaths, keyData" },
        { "SignedByNoKey", "{\"default\": [\n {\"type\": \"signedBy\", \"keyType\": \"GPGKeys\"}\n]}", 2, "found none" },
        { "RelativeKeyPath", "{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\",\n \"keyPath\": \"keys/k.gpg\"}]}", 2, "must be an absolute path" },
        { "KeyDataNotBase64", "{\"default\": [{\"type\": \"sigstoreSigned\",\n \"keyData\": \"not base64!\"}]}", 2, "not valid base64" },
        { "EmptyKeyPaths", "{\"default\": [{\"type\": \"sigstoreSigned\",\n \"keyPaths\": []}]}", 2, "non-empty array" },
        { "SigstoreWithoutKey", "{\"default\": [\n {\"type\": \"sigstoreSigned\"}\n]}", 2, "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, pki" },
        { "UnknownSignedIdentity", "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"/k.pub\",\n \"signedIdentity\": {\"type\": \"matchAnything\"}}]}", 2, "unknown signedIdentity type \"matchAnything\"" },
        { "ExactReferenceWithoutTag", "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"/k.pub\", \"signedIdentity\": {\"type\": \"exactReference\",\n \"dockerReference\": \"example.com/app\"}}]}", 2, "must name a tag or a digest" },
        { "ExactRepositoryWithTag", "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"/k.pub\", \"signedIdentity\": {\"type\": \"exactRepository\",\n \"dockerRepository\": \"example.com/app:v1\"}}]}", 2, "without a tag or digest" },
        { "RemapWithoutSignedPrefix", "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"/k.pub\",\n \"signedIdentity\": {\"type\": \"remapIdentity\", \"prefix\": \"mirror.example.com\"}}]}", 2, "no \"signedPrefix\"" },
        { "RemapInvalidPrefix", "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"/k.pub\", \"signedIdentity\": {\"type\": \"remapIdentity\",\n \"prefix\": \"mirror.example.com/\", \"signedPrefix\": \"example.com\"}}]}", 2, "must be a registry host" },
        { "MatchExactWithExtraKey", "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"/k.pub\", \"signedIdentity\":\n {\"type\": \"matchExact\", \"dockerReference\": \"x\"}}]}", 2, "unknown key \"dockerReference\"" },
        { "NotJson", "{\"default\": [\n  {\"type\": \"reject\"},\n]}", 3, "not valid JSON" },
        { "TrailingContent", "{\"default\": []}\n{\"default\": []}", 2, "after the end of the document" },
        { "Empty", string.Empty, 1, "empty" },
        { "CommentsAreNotJson", "// the policy\n{\"default\": []}", 1, "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BadPolicies))]
    public void A_bad_policy_is_rejected_whole_naming_the_file_and_line(string name, string json, int line, string message)
    {
        var error = Assert.Throws<PolicyFileException>(() => TrustPolicy.Parse(Encoding.UTF8.GetBytes(json), Path));

        Assert.True(error.Line == line, $"{name}: line {error.Line}, expected {line}: {error.Message}");
        Assert.StartsWith($"policy {Path}:{line}: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Debians_default_policy_accepts_anything()
    {
        var policy = TrustPolicy.Parse("{\n    \"default\": [\n        {\n            \"type\": \"insecureAcceptAnything\"\n        }\n    ]\n}\n"u8, Path);

        var match = policy.Match(ImageReference.Parse("quay.io/coreos/hyperkube:v1.5.5"));

        Assert.Equal("default", match.Scope);
        Assert.True(match.AcceptsAnything);
    }

    [Fact]
    public void Every_documented_requirement_and_identity_parses()
    {
        var json = """
            {
              "default": [{"type": "reject"}],
              "transports": {
                "docker": {
                  "example.com/a": [{"type": "signedBy", "keyType": "GPGKeys", "keyPaths": ["/k1.gpg", "/k2.gpg"], "signedIdentity": {"type": "matchExact"}}],
                  "example.com/b": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "AAEC", "signedIdentity": {"type": "matchRepository"}}],
                  "example.com/c": [{"type": "sigstoreSigned", "keyDatas": ["AAEC", "AwQF"], "signedIdentity": {"type": "exactReference", "dockerReference": "example.com/c:v1"}}],
                  "example.com/d": [{"type": "sigstoreSigned", "keyPath": "/c.pub", "signedIdentity": {"type": "exactRepository", "dockerRepository": "example.com/other"}}],
                  "mirror.example.com": [{"type": "sigstoreSigned", "keyPath": "/c.pub", "signedIdentity": {"type": "remapIdentity", "prefix": "mirror.example.com", "signedPrefix": "example.com"}}],
                  "example.com/e": [{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca.pem", "oidcIssuer": "https://x", "subjectEmail": "a@b"}, "rekorPublicKeyPath": "/rekor.pub"}],
                  "": [{"type": "insecureAcceptAnything"}]
                },
                "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}
              }
            }
            """u8;

        var policy = TrustPolicy.Parse(json, Path);

        var a = Assert.IsType<SignedByRequirement>(Assert.Single(policy.Match(ImageReference.Parse("example.com/a:v1")).Requirements));
        Assert.Equal(["/k1.gpg", "/k2.gpg"], a.Keys.Select(k => k.Path));
        Assert.IsType<MatchExactIdentity>(a.Identity);
        var b = Assert.IsType<SignedByRequirement>(Assert.Single(policy.Match(ImageReference.Parse("example.com/b:v1")).Requirements));
        Assert.Equal([0, 1, 2], b.Keys[0].Data!);
        var c = Assert.IsType<SigstoreSignedRequirement>(Assert.Single(policy.Match(ImageReference.Parse("example.com/c:v1")).Requirements));
        Assert.Equal("example.com/c:v1", Assert.IsType<ExactReferenceIdentity>(c.Identity).Reference.Exact);
        Assert.Equal(2, c.Keys.Count);
        var d = Assert.IsType<SigstoreSignedRequirement>(Assert.Single(policy.Match(ImageReference.Parse("example.com/d:v1")).Requirements));
        Assert.Equal("example.com/other", Assert.IsType<ExactRepositoryIdentity>(d.Identity).Repository.Name);
        var remap = Assert.IsType<SigstoreSignedRequirement>(Assert.Single(policy.Match(ImageReference.Parse("mirror.example.com/x/y:v1")).Requirements));
        Assert.IsType<RemapIdentity>(remap.Identity);
        var fulcio = Assert.IsType<SigstoreSignedRequirement>(Assert.Single(policy.Match(ImageReference.Parse("example.com/e:v1")).Requirements));
        Assert.Equal("requires Fulcio certificates and Rekor transparency-log entries", fulcio.Unsupported);
        Assert.Equal("transports.docker[\"\"]", policy.Match(ImageReference.Parse("other.example.org/x")).Scope);
        Assert.Equal("default", policy.Match(ImageReference.Parse("oci:/srv/layout:v1")).Scope);
    }

    [Fact]
    public void The_fingerprint_changes_with_what_is_required_and_not_with_where_it_is_written()
    {
        var one = TrustPolicy.Parse("""{"default": [{"type": "sigstoreSigned", "keyPath": "/a.pub"}]}"""u8, Path);
        var same = TrustPolicy.Parse("{\n\"default\": [\n{\"keyPath\": \"/a.pub\", \"type\": \"sigstoreSigned\"}]}"u8, "/other/policy.json");
        var other = TrustPolicy.Parse("""{"default": [{"type": "sigstoreSigned", "keyPath": "/b.pub"}]}"""u8, Path);
        var image = ImageReference.Parse("example.com/app:v1");

        Assert.Equal(one.Match(image).Fingerprint, same.Match(image).Fingerprint);
        Assert.NotEqual(one.Match(image).Fingerprint, other.Match(image).Fingerprint);
    }

    [Fact]
    public void Replacing_a_key_file_changes_the_fingerprint_so_stored_images_are_verified_again()
    {
        var directory = Directory.CreateTempSubdirectory("kubefly-fingerprint-");
        try
        {
            var key = System.IO.Path.Combine(directory.FullName, "cosign.pub");
            File.WriteAllText(key, "first key");
            var policy = TrustPolicy.Parse(Encoding.UTF8.GetBytes($"{{\"default\": [{{\"type\": \"sigstoreSigned\", \"keyPath\": \"{key}\"}}]}}"), Path);
            var image = ImageReference.Parse("example.com/app:v1");
            var before = policy.Match(image).Fingerprint;

            File.WriteAllText(key, "rotated key");

            Assert.NotEqual(before, policy.Match(image).Fingerprint);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_policy_file_that_does_not_exist_is_named()
    {
        var error = Assert.Throws<TrustException>(() => TrustPolicy.Load("/nonexistent/policy.json"));

        Assert.Contains("/nonexistent/policy.json does not exist", error.Message, StringComparison.Ordinal);
    }
}
