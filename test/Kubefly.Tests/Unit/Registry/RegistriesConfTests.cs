using Kubefly.Images.Registry;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Unit.Registry;

public sealed class RegistriesConfTests
{
    private const string Example = """
        # podman-style configuration
        unqualified-search-registries = ["registry.fedoraproject.org", 'quay.io', ]
        short-name-mode = "enforcing"

        [[registry]]
        prefix = "docker.io"
        location = "docker.io"  # the origin
        mirror-by-digest-only = false

        [[registry.mirror]]
        location = "mirror.local:5000/dockerhub"
        insecure = true

        [[registry.mirror]]
        location = "backup.local"

        [[registry]]
        prefix = "docker.io/library/special"
        location = "special.example/images/special"

        [[registry]]
        location = "10.0.0.1:5000"
        insecure = true

        [[registry]]
        prefix = "*.blocked.example"
        blocked = true

        [aliases]
        "fedora" = "registry.fedoraproject.org/fedora"
        """;

    [Fact]
    public void Parses_registries_mirrors_and_search_list()
    {
        var conf = RegistriesConf.Parse(Example, "registries.conf");

        Assert.Equal(["registry.fedoraproject.org", "quay.io"], conf.UnqualifiedSearchRegistries);
        Assert.Equal(4, conf.Registries.Count);
        var hub = conf.Registries[0];
        Assert.Equal("docker.io", hub.Prefix);
        Assert.Equal([new RegistryMirror("mirror.local:5000/dockerhub", true), new RegistryMirror("backup.local", false)], hub.Mirrors);
        Assert.Equal("10.0.0.1:5000", conf.Registries[2].Prefix);
        Assert.True(conf.Registries[2].Insecure);
        Assert.True(conf.Registries[3].Blocked);
        Assert.True(conf.Registries[3].IsWildcard);
    }

    [Theory]
    [InlineData("docker.io/library/busybox", "docker.io")]
    [InlineData("docker.io/library/special", "docker.io/library/special")]
    [InlineData("docker.io/library/special/sub", "docker.io/library/special")]
    [InlineData("docker.io/library/specialist", "docker.io")]
    [InlineData("10.0.0.1:5000/ns/app", "10.0.0.1:5000")]
    [InlineData("10.0.0.1:50000/ns/app", null)]
    [InlineData("a.blocked.example/x", "*.blocked.example")]
    [InlineData("a.b.blocked.example:443/x", "*.blocked.example")]
    [InlineData("blocked.example/x", null)]
    [InlineData("quay.io/ns/app", null)]
    public void The_longest_matching_prefix_applies(string name, string? expectedPrefix)
    {
        var conf = RegistriesConf.Parse(Example, "registries.conf");

        Assert.Equal(expectedPrefix, conf.Find(name)?.Prefix);
    }

    [Fact]
    public void Endpoints_are_mirrors_in_order_then_the_rewritten_origin()
    {
        using var client = new RegistryClient(new RegistryClientOptions { RegistriesConf = RegistriesConf.Parse(Example, "registries.conf") });

        var hub = client.ResolveEndpoints(ImageReference.Parse("busybox:1.36"));
        var special = client.ResolveEndpoints(ImageReference.Parse("special:1"));

        Assert.Equal(
            [("mirror.local:5000", "dockerhub/library/busybox", true, true), ("backup.local", "library/busybox", true, false), ("registry-1.docker.io", "library/busybox", false, false)],
            hub.Select(e => (e.Host, e.Repository, e.IsMirror, e.Insecure)));
        Assert.Equal([("special.example", "images/special")], special.Select(e => (e.Host, e.Repository)));
    }

    [Fact]
    public void Digest_only_mirrors_serve_digest_references_only()
    {
        const string conf = """
            [[registry]]
            location = "quay.io"
            mirror-by-digest-only = true
            [[registry.mirror]]
            location = "mirror.local"
            """;
        using var client = new RegistryClient(new RegistryClientOptions { RegistriesConf = RegistriesConf.Parse(conf, "c") });

        Assert.Equal(["quay.io"], client.ResolveEndpoints(ImageReference.Parse("quay.io/ns/app:v1")).Select(e => e.Host));
        Assert.Equal(["mirror.local", "quay.io"], client.ResolveEndpoints(ImageReference.Parse($"quay.io/ns/app@sha256:{new string('a', 64)}")).Select(e => e.Host));
    }

    /// <summary>Regression: pull-from-mirror was accepted and ignored, so a mirror meant for digest pulls served tags.</summary>
    [Fact]
    public void Pull_from_mirror_limits_each_mirror_to_the_pulls_it_names()
    {
        const string conf = """
            [[registry]]
            location = "quay.io"
            [[registry.mirror]]
            location = "digests.local"
            pull-from-mirror = "digest-only"
            [[registry.mirror]]
            location = "tags.local"
            pull-from-mirror = "tag-only"
            [[registry.mirror]]
            location = "all.local"
            pull-from-mirror = "all"
            [[registry.mirror]]
            location = "default.local"
            """;
        using var client = new RegistryClient(new RegistryClientOptions { RegistriesConf = RegistriesConf.Parse(conf, "c") });

        Assert.Equal(["tags.local", "all.local", "default.local", "quay.io"], client.ResolveEndpoints(ImageReference.Parse("quay.io/ns/app:v1")).Select(e => e.Host));
        Assert.Equal(["digests.local", "all.local", "default.local", "quay.io"], client.ResolveEndpoints(ImageReference.Parse($"quay.io/ns/app@sha256:{new string('a', 64)}")).Select(e => e.Host));
    }

    [Theory]
    [InlineData("pull-from-mirror = \"digests\"", "must be \"all\", \"digest-only\" or \"tag-only\"")]
    [InlineData("pull-from-mirror = true", "must be a string")]
    [InlineData("pull-from-mirror = \"tag-only\"", "contradicts mirror-by-digest-only = true")]
    public void A_bad_pull_from_mirror_rejects_the_file_naming_the_line(string line, string message)
    {
        var conf = $"[[registry]]\nlocation = \"quay.io\"\nmirror-by-digest-only = {(message.Contains("contradicts", StringComparison.Ordinal) ? "true" : "false")}\n[[registry.mirror]]\nlocation = \"m.local\"\n{line}\n";

        var error = Assert.ThrowsAny<KubeflyException>(() => RegistriesConf.Parse(conf, "/etc/containers/registries.conf"));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains("/etc/containers/registries.conf", error.Message, StringComparison.Ordinal);
        Assert.Contains("6", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_blocked_registry_fails_naming_the_prefix_and_file()
    {
        using var client = new RegistryClient(new RegistryClientOptions { RegistriesConf = RegistriesConf.Parse(Example, "/etc/x/registries.conf") });

        var error = Assert.Throws<ImageException>(() => client.ResolveEndpoints(ImageReference.Parse("img.blocked.example/ns/app:v1")));

        Assert.Contains("blocked", error.Message, StringComparison.Ordinal);
        Assert.Contains("*.blocked.example", error.Message, StringComparison.Ordinal);
        Assert.Contains("/etc/x/registries.conf", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_configuration_the_reference_registry_is_used_over_https_only()
    {
        using var client = new RegistryClient(new RegistryClientOptions());

        var endpoint = Assert.Single(client.ResolveEndpoints(ImageReference.Parse("quay.io/ns/app")));

        Assert.Equal(("quay.io", "ns/app", false), (endpoint.Host, endpoint.Repository, endpoint.Insecure));
    }

    [Theory]
    [InlineData("[[registry]]\nlocation = \"a.example\nx = 1\n", 2, "Invalid newline in a string")]
    [InlineData("[[registry]]\nlocation = \"a\"\nlocation = \"b\"\n", 3, "The key `registry.location` is already defined")]
    [InlineData("[[registry]]\nlocaton = \"a\"\n", 2, "unknown key \"locaton\"")]
    [InlineData("\n\n[[registry]]\nlocation = \"a\"\ninsecure = \"yes\"\n", 5, "\"insecure\" must be true or false")]
    [InlineData("[[registry]]\nlocation = { x = 1 }\n", 2, "\"location\" must be a string")]
    [InlineData("[[registry]]\nlocation = \"a\" extra\n", 2, "Unexpected token found `extra`")]
    [InlineData("[[registry]\n", 1, "while expecting `]]`")]
    [InlineData("[[registry]]\nlocation = \"bad\\q\"\n", 2, "Unexpected escape character [q]")]
    [InlineData("[[registry]]\nlocation = \"https://a.example\"\n", 2, "invalid registry location")]
    [InlineData("[[registry]]\ninsecure = true\n", 1, "needs a prefix or a location")]
    [InlineData("[[registry]]\nlocation = \"a\"\n[[registry]]\nlocation = \"a\"\n", 3, "configured twice")]
    [InlineData("[[registry]]\nlocation = \"a\"\n[[registry.mirror]]\ninsecure = true\n", 3, "needs a location")]
    [InlineData("registry = \"a\"\n", 1, "must be an array of tables")]
    [InlineData("[[registry]]\nprefix = \"*.example.com\"\nlocation = \"x.example.com\"\n", 3, "cannot have a location")]
    [InlineData("unqualified-search-registries = [\"a\", 1]\n", 1, "only arrays of strings")]
    [InlineData("[a]\nx = 1\n[a]\n", 3, "The key `a` is already defined")]
    [InlineData("sneaky = true\n", 1, "unknown key \"sneaky\"")]
    public void Syntax_and_type_errors_name_the_file_and_line(string text, int line, string message)
    {
        var error = Assert.Throws<TomlSyntaxException>(() => RegistriesConf.Parse(text, "/etc/containers/registries.conf"));

        Assert.Equal(line, error.Line);
        Assert.StartsWith($"/etc/containers/registries.conf:{line}: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    /// <summary>Found by fuzzing: Tomlyn throws on a file that ends inside a string's escape.</summary>
    [Theory]
    [InlineData("[[registry]]\nlocation = \"quay.io\\u")]
    [InlineData("a = \"\\U")]
    [InlineData("a = \"\\u12")]
    [InlineData("\"key\\u")]
    [InlineData("a = \"\"\"\\")]
    public void A_file_ending_inside_an_escape_is_a_clear_error(string text)
    {
        var error = Assert.Throws<TomlSyntaxException>(() => RegistriesConf.Parse(text, "/etc/containers/registries.conf"));

        Assert.Equal("/etc/containers/registries.conf: not valid TOML: the file ends inside a string's escape (is it truncated?)", error.Message);
    }

    /// <summary>
    /// What Debian ships for podman users reads under TOML 1.1: registries.conf (all comments) and the
    /// short-name aliases drop-in (hundreds of quoted keys in an [aliases] table).
    /// </summary>
    [Theory]
    [InlineData("/etc/containers/registries.conf")]
    [InlineData("/etc/containers/registries.conf.d/shortnames.conf")]
    public void The_files_debian_ships_parse(string shipped)
    {
        Assert.True(File.Exists(shipped), $"{shipped} comes with the Debian packages make test installs");

        var table = TomlDocumentReader.Parse(File.ReadAllText(shipped), shipped);
        RegistriesConf.Parse(File.ReadAllText(shipped), shipped);
        if (shipped.EndsWith("shortnames.conf", StringComparison.Ordinal))
        {
            Assert.True(table.TryGetValue("aliases", out var aliases));
            Assert.True(((TomlTable)aliases).Keys.Count() > 50);
        }
    }

    [Fact]
    public void Strings_support_escapes_and_literal_strings()
    {
        var table = TomlDocumentReader.Parse("a = \"x\\ty\\\"z\\u00e9\\U0001F600\\\\\"\nb = 'C:\\raw'\nc.d = -42\n", "t.toml");

        Assert.True(table.TryGetValue("a", out var a));
        Assert.Equal("x\ty\"z\u00e9\U0001F600\\", a);
        Assert.True(table.TryGetValue("b", out var b));
        Assert.Equal("C:\\raw", b);
        Assert.True(table.TryGetValue("c", out var c));
        Assert.True(((TomlTable)c).TryGetValue("d", out var d));
        Assert.Equal(-42L, d);
    }

    [Fact]
    public void Load_reads_the_explicit_path_and_reports_a_missing_explicit_file()
    {
        var directory = TestPorts.NewTempDirectory("registries-conf");
        try
        {
            var path = Path.Combine(directory, "registries.conf");
            File.WriteAllText(path, "[[registry]]\nlocation = \"a.example\"\ninsecure = true\n");

            var conf = RegistriesConf.Load(path);

            Assert.True(conf.Find("a.example/x")!.Insecure);
            Assert.Equal(path, conf.Source);
            Assert.Throws<ImageException>(() => RegistriesConf.Load(Path.Combine(directory, "missing.conf")));
        }
        finally
        {
            TestPorts.DeleteDirectory(directory);
        }
    }
}
