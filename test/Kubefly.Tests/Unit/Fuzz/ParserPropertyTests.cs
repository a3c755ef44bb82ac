using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CsCheck;
using Kubefly.Cli;
using Kubefly.Fly;
using Kubefly.Images.Registry;
using Kubefly.Oci;
using Kubefly.Pods;
using Kubefly.Tests.Infrastructure;
using Kubefly.Wrappers;

namespace Kubefly.Tests.Unit.Fuzz;

/// <summary>
/// Property-based fuzzing (CsCheck) of every parser that reads untrusted text or bytes: random input and
/// mutations of valid input. The contract: a parser returns, or throws one of kubefly's own errors
/// (or the FormatException/JsonException its caller turns into one) whose message is in kubefly's words,
/// never a .NET resource key or exception name; it never crashes with anything else. `make test` runs a
/// bounded number of cases; `make fuzz` sets CsCheck_Time to run each property for longer. A failure
/// prints the shrunk input and the seed to reproduce it (CsCheck_Seed).
/// </summary>
public sealed class ParserPropertyTests
{
    private const int Iterations = 3_000;

    /// <summary>`make fuzz` sets KUBEFLY_FUZZ_SECONDS: each property then runs for that long instead of <see cref="Iterations"/> cases.</summary>
    private static readonly int FuzzSeconds = int.TryParse(Environment.GetEnvironmentVariable("KUBEFLY_FUZZ_SECONDS"), out var seconds) ? seconds : -1;

    // No '_' in random text: random runs like "UU_Lc6" look like resource keys when a parser echoes them.
    private const string Punctuation = ":/@.-=,;\"'\\ \t\n\r[]{}#*?$%&+!~`^|<>()";

    private static readonly Gen<char> AnyChar = Gen.OneOf(
        Gen.Char['a', 'z'], Gen.Char['A', 'Z'], Gen.Char['0', '9'], Gen.Char[Punctuation],
        Gen.Char['\0', '\u001f'], Gen.Char['\u0080', '\uffff']);

    private static readonly Gen<string> AnyText = Gen.String[AnyChar, 0, 300];

    private static Regex NotKubeflysWords() => UserFacingText.NotKubeflysWords();

    [Fact]
    public void Image_references_never_throw() =>
        Inputs("quay.io/coreos/hyperkube:v1.5.4_coreos.0", "docker://127.0.0.1:5000/a/b@sha256:" + new string('a', 64), "oci:/x/y:tag", "docker-archive:/a.tar:n:t")
            .Sample(
                text =>
                {
                    if (ImageReference.TryParse(text, out var reference, out var error))
                    {
                        // A parsed reference prints as something that parses to itself.
                        Assert.True(ImageReference.TryParse(reference.ToString(), out var again, out _), reference.ToString());
                        Assert.Equal(reference.ToString(), again.ToString());
                    }
                    else
                    {
                        Assert.False(string.IsNullOrEmpty(error));
                        Assert.DoesNotMatch(NotKubeflysWords(), error);
                    }
                },
                iter: Iterations,
                time: FuzzSeconds);

    [Fact]
    public void Volume_flags_follow_the_contract() =>
        Contract(Inputs("kl,kind=host,source=/var/lib/kubelet,readOnly=false,recursive=true,propagation=rshared", "e,kind=empty,mode=0755,uid=1,gid=2"), text => VolumeSpec.Parse(text));

    [Fact]
    public void Mount_flags_follow_the_contract() =>
        Contract(Inputs("volume=kl,target=/var/lib/kubelet"), text => MountSpec.Parse(text));

    [Fact]
    public void Run_command_lines_follow_the_contract()
    {
        string[] words = ["--volume=kl,kind=host,source=/a", "--mount", "volume=kl,target=/b", "img", "--exec=/bin/sh", "--", "---", "-c",
            "--set-env=A=1", "--set-env==x", "--environment=B=2", "--uuid-file-save=/tmp/x", "--dns=host", "--hosts-entry=host",
            "--net=host", "--stage1-from-dir=stage1-fly.aci", "--user=0", "--group=0", "--name=a", "--working-dir=/", "--pull-policy=never",
            "--insecure-options=image", "--dir=/x", "--inherit-env", "--set-env-file=/nonexistent", "--signature=/s", "img2"];
        var token = Gen.OneOf(OneOf(words), AnyText);
        Contract(token.Array[0, 12], tokens => RunArgumentsParser.Parse(tokens));
    }

    [Fact]
    public void Registries_conf_follows_the_contract() =>
        Contract(Inputs("""
            unqualified-search-registries = ["docker.io"]
            [[registry]]
            prefix = "quay.io"
            location = "quay.io"
            insecure = false
            blocked = false
            [[registry.mirror]]
            location = "127.0.0.1:5000"
            insecure = true
            """), text => RegistriesConf.Parse(text, "fuzz.conf"));

    [Fact]
    public void Www_authenticate_headers_follow_the_contract() =>
        Contract(Inputs("Bearer realm=\"https://auth.example/token\",service=\"registry\",scope=\"repository:a/b:pull\"", "Basic realm=\"x\""), text => AuthenticationChallenge.Parse(text));

    [Fact]
    public void Durations_never_throw() =>
        Inputs("1h30m0.5s", "-1.5h", "24h0m0s", "0").Sample(
            text =>
            {
                if (!GoDuration.TryParse(text, out _, out var error))
                {
                    Assert.DoesNotMatch(NotKubeflysWords(), error);
                }
            },
            iter: Iterations,
            time: FuzzSeconds);

    [Fact]
    public void Insecure_options_follow_the_contract() =>
        Contract(Inputs("image,http,tls", "all-run", "none"), text => InsecureOptionsParser.Parse(text));

    [Fact]
    public void Platforms_follow_the_contract() =>
        Contract(Inputs("linux/arm64/v8", "linux/amd64"), text => Platform.Parse(text));

    [Fact]
    public void Mount_tables_follow_the_contract() =>
        Contract(Inputs("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n40 27 0:40 / /var/lib/kubelet rw,relatime shared:7 - ext4 /dev/vda rw\n"), text => MountInfo.Parse(text));

    [Fact]
    public void Shell_words_never_throw() =>
        Inputs("--volume a,kind=host,source=/a --mount volume=a,target=/a", "  a\tb  ").Sample(text => { ShellWords.Split(text); }, iter: Iterations, time: FuzzSeconds);

    [Fact]
    public void Image_configs_follow_the_contract() =>
        Contract(Bytes("""{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Entrypoint":["/e"],"Cmd":["c"],"WorkingDir":"/w","User":"1:2","Labels":{"a":"b"}},"rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"""),
            bytes => ImageConfigurationJson.Parse(bytes));

    [Fact]
    public void Digests_and_pod_uuids_never_throw() =>
        Inputs("sha256:" + new string('0', 64), "0f746094-3438-42bc-ab37-3cf85f132e60").Sample(
            text =>
            {
                if (Digest.TryParse(text, out var digest))
                {
                    Assert.Equal(digest, Digest.Parse(digest.ToString()));
                }

                if (PodUuid.TryParse(text, out var uuid))
                {
                    Assert.Equal(36, uuid.Value.Length);
                }
            },
            iter: Iterations,
            time: FuzzSeconds);

    [Fact]
    public void The_words_check_catches_what_it_must()
    {
        Assert.Matches(NotKubeflysWords(), "IO_PathTooLong_Path, /x");
        Assert.Matches(NotKubeflysWords(), "net_http_ssl_connection_failed");
        Assert.Matches(NotKubeflysWords(), "Object reference: NullReferenceException");
        Assert.DoesNotMatch(NotKubeflysWords(), "One of KUBELET_IMAGE KUBELET_IMAGE_TAG must be set");
        Assert.DoesNotMatch(NotKubeflysWords(), "invalid value \"x\" for --set-env: must be specified as key=value");
    }

    /// <summary>Valid seeds, their mutations (a character inserted, deleted or replaced, a slice repeated), and random text.</summary>
    [Fact]
    public void Trust_policies_parse_or_are_refused_with_a_line() =>
        Inputs(
            """{"default": [{"type": "reject"}], "transports": {"docker": {"quay.io/coreos": [{"type": "sigstoreSigned", "keyPath": "/k.pub", "signedIdentity": {"type": "remapIdentity", "prefix": "a.io", "signedPrefix": "b.io"}}]}}}""",
            """{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "AAEC"}], "transports": {"oci": {"/srv": [{"type": "insecureAcceptAnything"}]}}}""")
            .Sample(
                text =>
                {
                    try
                    {
                        var policy = Kubefly.Trust.Policy.TrustPolicy.Parse(Encoding.UTF8.GetBytes(text), "/p.json");
                        _ = policy.Match(ImageReference.Parse("quay.io/coreos/hyperkube:v1")).Fingerprint;
                    }
                    catch (Kubefly.Trust.Policy.PolicyFileException e)
                    {
                        Assert.StartsWith("policy /p.json:", e.Message, StringComparison.Ordinal);
                        Assert.DoesNotMatch(NotKubeflysWords(), e.Message);
                    }
                },
                iter: Iterations,
                time: FuzzSeconds);

    [Fact]
    public void Registries_d_files_parse_or_are_refused_in_kubeflys_words() =>
        Inputs("default-docker:\n  lookaside: file:///var/lib/sigs\ndocker:\n  quay.io/coreos:\n    lookaside: https://sigs.example.com\n    use-sigstore-attachments: true\n")
            .Sample(
                text =>
                {
                    try
                    {
                        new Kubefly.Trust.Signatures.RegistriesD().Add("/d/x.yaml", Encoding.UTF8.GetBytes(text));
                    }
                    catch (Kubefly.Trust.TrustException e)
                    {
                        Assert.Contains("registries.d /d/x.yaml", e.Message, StringComparison.Ordinal);
                        Assert.DoesNotMatch(NotKubeflysWords(), e.Message);
                    }
                },
                iter: Iterations,
                time: FuzzSeconds);

    [Fact]
    public void Signed_payloads_parse_or_are_refused_in_kubeflys_words() =>
        Inputs("""{"critical":{"identity":{"docker-reference":"quay.io/coreos/hyperkube:v1"},"image":{"docker-manifest-digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"type":"atomic container signature"},"optional":{"creator":"x"}}""")
            .Sample(
                text =>
                {
                    try
                    {
                        Kubefly.Trust.Signatures.SignaturePayload.Parse(Encoding.UTF8.GetBytes(text), Kubefly.Trust.Signatures.SignaturePayload.SimpleSigningType);
                    }
                    catch (Kubefly.Trust.Signatures.UnacceptableSignatureException e)
                    {
                        Assert.DoesNotMatch(NotKubeflysWords(), e.Message);
                    }
                },
                iter: Iterations,
                time: FuzzSeconds);

    [Fact]
    public void Gpg_signatures_and_cosign_keys_from_anywhere_are_refused_in_kubeflys_words()
    {
        var keyring = Kubefly.Trust.Signatures.SimpleSigningVerifier.FromKeyrings([]);
        Gen.OneOf(Gen.Byte.Array[0, 600], Bytes("-----BEGIN PGP MESSAGE-----\n\nowGbwMvMwMV4wSZ0\n=abcd\n-----END PGP MESSAGE-----\n"))
            .Sample(
                bytes =>
                {
                    var error = Assert.Throws<Kubefly.Trust.Signatures.UnacceptableSignatureException>(() => keyring.Verify(bytes));
                    Assert.DoesNotMatch(NotKubeflysWords(), error.Message);
                    var keyError = Assert.ThrowsAny<Kubefly.Trust.TrustException>(() => Kubefly.Trust.Signatures.SigstoreVerifier.FromPem([("key file /k.pub", bytes)]).Dispose());
                    Assert.DoesNotMatch(NotKubeflysWords(), keyError.Message);
                },
                iter: Iterations,
                time: FuzzSeconds);
    }

    private static Gen<string> Inputs(params string[] seeds) => Gen.OneOf(
        AnyText,
        Gen.Select(OneOf(seeds), Gen.Int[0, 4], Gen.Int[0, 1000], Gen.Int[1, 20], AnyChar, Mutate));

    private static Gen<string> OneOf(string[] values) => Gen.Int[0, values.Length - 1].Select(i => values[i]);

    private static Gen<byte[]> Bytes(string seed) =>
        Inputs(seed).Select(text => Encoding.UTF8.GetBytes(text));

    private static string Mutate(string seed, int operation, int position, int length, char c)
    {
        var at = seed.Length == 0 ? 0 : position % seed.Length;
        return operation switch
        {
            0 => seed.Insert(at, c.ToString()),
            1 => seed.Remove(at, Math.Min(length, seed.Length - at)),
            2 => seed[..at] + c + seed[Math.Min(seed.Length, at + 1)..],
            3 => seed[..at] + string.Concat(Enumerable.Repeat(seed[at..Math.Min(seed.Length, at + length)], 3)) + seed[at..],
            _ => seed,
        };
    }

    private static void Contract<T>(Gen<T> inputs, Action<T> parse) => inputs.Sample(input =>
    {
        try
        {
            parse(input);
        }
        catch (Exception e) when (e is KubeflyException or FormatException or JsonException)
        {
            Assert.DoesNotMatch(NotKubeflysWords(), e.Message);
        }
    }, iter: Iterations, time: FuzzSeconds);
}
