using Kubefly.Oci;
using Kubefly.Trust.Policy;

namespace Kubefly.Tests.Unit.Trust;

/// <summary>Each signedIdentity kind, as containers-policy.json(5) defines it, with a case it accepts and one it refuses.</summary>
public sealed class SignedIdentityTests
{
    private const string Digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    public static TheoryData<string, string, string, bool> Cases => new()
    {
        { "matchRepoDigestOrExact", "example.com/app:v1", "example.com/app:v1", true },
        { "matchRepoDigestOrExact", "example.com/app:v1", "example.com/app:v2", false },
        { "matchRepoDigestOrExact", "example.com/app:latest", "example.com/app", false }, // a bare repository claim is not a claim for :latest
        { "matchRepoDigestOrExact", $"example.com/app@{Digest}", "example.com/app:anything", true },
        { "matchRepoDigestOrExact", $"example.com/app@{Digest}", "example.com/other:v1", false },
        { "matchExact", "example.com/app:v1", "example.com/app:v1", true },
        { "matchExact", $"example.com/app@{Digest}", "example.com/app:v1", false },
        { "matchRepository", "example.com/app:v1", "example.com/app", true },
        { "matchRepository", "example.com/app:v1", "example.com/app:v9", true },
        { "matchRepository", "example.com/app:v1", "example.com/apps", false },
        { "matchRepository", "busybox", "docker.io/library/busybox:1.36", true },
        { "exactReference example.com/signed:v1", "mirror.example.com/app:v1", "example.com/signed:v1", true },
        { "exactReference example.com/signed:v1", "mirror.example.com/app:v1", "example.com/signed:v2", false },
        { "exactRepository example.com/signed", "mirror.example.com/app:v1", "example.com/signed:v7", true },
        { "exactRepository example.com/signed", "mirror.example.com/app:v1", "example.com/other:v7", false },
        { "remapIdentity mirror.example.com example.com", "mirror.example.com/ns/app:v1", "example.com/ns/app:v1", true },
        { "remapIdentity mirror.example.com example.com", "mirror.example.com/ns/app:v1", "mirror.example.com/ns/app:v1", false },
        { "remapIdentity mirror.example.com/ns example.com/upstream", "mirror.example.com/ns/app:v1", "example.com/upstream/app:v1", true },
        { "remapIdentity mirror.example.com/ns example.com/upstream", "mirror.example.com/nsx/app:v1", "example.com/upstream/app:v1", false },
        { "remapIdentity mirror.example.com example.com", "other.example.com/app:v1", "other.example.com/app:v1", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_identity_kind_accepts_and_refuses_as_documented(string kind, string image, string claimed, bool accepted)
    {
        var identity = Parse(kind);
        Assert.True(DockerIdentity.TryParse(claimed, out var signed, out var error), error);

        var mismatch = identity.Mismatch(ImageReference.Parse(image), signed);

        Assert.True(accepted == (mismatch is null), $"{kind} {image} vs {claimed}: {mismatch ?? "accepted"}");
    }

    [Fact]
    public void An_image_from_a_file_has_no_identity_to_match_unless_the_policy_names_one()
    {
        Assert.True(DockerIdentity.TryParse("example.com/app:v1", out var signed, out _));
        var layout = ImageReference.Parse("oci:/srv/layout:v1");

        Assert.Contains("not a registry image", new MatchRepoDigestOrExactIdentity().Mismatch(layout, signed), StringComparison.Ordinal);
        Assert.Null(Parse("exactReference example.com/app:v1").Mismatch(layout, signed));
    }

    private static SignedIdentity Parse(string text)
    {
        var words = text.Split(' ');
        DockerIdentity Identity(string value) => DockerIdentity.TryParse(value, out var identity, out var error) ? identity : throw new InvalidOperationException(error);
        return words[0] switch
        {
            "matchExact" => new MatchExactIdentity(),
            "matchRepoDigestOrExact" => new MatchRepoDigestOrExactIdentity(),
            "matchRepository" => new MatchRepositoryIdentity(),
            "exactReference" => new ExactReferenceIdentity(Identity(words[1])),
            "exactRepository" => new ExactRepositoryIdentity(Identity(words[1])),
            _ => new RemapIdentity(words[1], words[2]),
        };
    }
}
