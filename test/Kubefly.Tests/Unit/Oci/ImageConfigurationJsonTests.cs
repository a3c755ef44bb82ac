using System.Text;
using System.Text.Json;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Oci;

/// <summary>The hand-rolled config reader against the model's own JsonSerializer contract and real configs' quirks.</summary>
public sealed class ImageConfigurationJsonTests
{
    private static readonly Digest LayerA = Digest.Compute("a"u8);
    private static readonly Digest LayerB = Digest.Compute("b"u8);

    [Fact]
    public void Reads_back_what_the_serializer_writes_for_every_field()
    {
        var original = new ImageConfiguration
        {
            Created = "2026-11-26T10:00:00Z",
            Architecture = "arm",
            Os = "linux",
            Variant = "v7",
            Config = new ContainerConfig
            {
                User = "1000:1000",
                Env = ["PATH=/bin", "EMPTY="],
                Entrypoint = ["/kubelet"],
                Cmd = ["--help", "ünïcode \"quoted\""],
                WorkingDir = "/work",
                Volumes = new Dictionary<string, JsonElement> { ["/data"] = JsonDocument.Parse("{}").RootElement },
                ExposedPorts = new Dictionary<string, JsonElement> { ["10250/tcp"] = JsonDocument.Parse("{}").RootElement },
                Labels = new Dictionary<string, string> { ["org.opencontainers.image.version"] = "1.5.4" },
                StopSignal = "SIGINT",
            },
            RootFs = new RootFs { Type = "layers", DiffIds = [LayerA, LayerB] },
        };
        var json = JsonSerializer.SerializeToUtf8Bytes(original, OciJsonContext.Default.ImageConfiguration);

        var parsed = ImageConfigurationJson.Parse(json);

        Assert.Equal(Encoding.UTF8.GetString(json), JsonSerializer.Serialize(parsed, OciJsonContext.Default.ImageConfiguration));
    }

    [Fact]
    public void A_docker_config_with_fields_kubefly_does_not_use_and_nulls_reads_what_matters()
    {
        var json = $$$"""
            {"architecture":"amd64","author":"someone","container":"abc","container_config":{"Cmd":["/bin/sh"],"Env":null},
             "config":{"Hostname":"","Env":["PATH=/usr/bin"],"Cmd":null,"Entrypoint":["/etcd"],"OnBuild":null,"Labels":null,"Volumes":null},
             "history":[{"created":"2016-01-01T00:00:00Z","empty_layer":true}],
             "os":"linux","rootfs":{"type":"layers","diff_ids":["{{{LayerA}}}"]}}
            """;

        var parsed = ImageConfigurationJson.Parse(Encoding.UTF8.GetBytes(json));

        Assert.Equal("amd64", parsed.Architecture);
        Assert.Equal(["PATH=/usr/bin"], parsed.Config!.Env!);
        Assert.Equal(["/etcd"], parsed.Config.Entrypoint!);
        Assert.Null(parsed.Config.Cmd);
        Assert.Null(parsed.Config.Labels);
        Assert.Equal([LayerA], parsed.RootFs.DiffIds);
    }

    [Fact]
    public void A_null_or_missing_config_is_no_config()
    {
        Assert.Null(ImageConfigurationJson.Parse("""{"os":"linux","config":null}"""u8).Config);
        Assert.Null(ImageConfigurationJson.Parse("""{"os":"linux"}"""u8).Config);
    }

    [Fact]
    public void The_last_of_duplicate_properties_wins_as_with_the_serializer()
    {
        var parsed = ImageConfigurationJson.Parse("""{"config":{"User":"first","User":"second"}}"""u8);

        Assert.Equal("second", parsed.Config!.User);
    }

    [Theory]
    [InlineData("", "does not contain any JSON tokens")]
    [InlineData("[]", "expected an object")]
    [InlineData("""{"os":"linux"} {}""", "is invalid after a single JSON value")]
    [InlineData("""{"os":"linux" """, "Expected depth to be zero")]
    [InlineData("""{"config":{"Env":"PATH=/bin"}}""", "\"config\": \"Env\": expected an array, found String")]
    [InlineData("""{"config":{"Entrypoint":["/a",1]}}""", "expected a string")]
    [InlineData("""{"rootfs":{"diff_ids":["sha256:nothex"]}}""", "\"rootfs\": \"diff_ids\": invalid digest")]
    [InlineData("""{"os":"linux", /* comment */ "architecture":"amd64"}""", "")]
    public void Malformed_configs_fail_with_a_reason(string json, string reason)
    {
        var error = Assert.ThrowsAny<JsonException>(() => ImageConfigurationJson.Parse(Encoding.UTF8.GetBytes(json)));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }
}
