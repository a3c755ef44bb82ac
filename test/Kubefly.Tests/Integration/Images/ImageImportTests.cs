using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Images;

/// <summary>`kubefly image import` as an air-gapped node uses it: archives written by skopeo, compressed by gzip and zstd.</summary>
[Trait("Category", "Integration")]
public sealed class ImageImportTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");
    private readonly TempDirectory _work = new("kubefly-import");
    private readonly string _policy;

    public ImageImportTests()
    {
        _policy = _work.Combine("policy.json");
        File.WriteAllText(_policy, """{"default": [{"type": "insecureAcceptAnything"}]}""");
    }

    public void Dispose()
    {
        _work.Dispose();
        _state.Dispose();
    }

    [Fact]
    public void A_gzipped_docker_save_archive_is_stored_under_its_own_name_and_found_by_it_without_a_registry()
    {
        var archive = _work.Combine("hyperkube.tar");
        ProgramRunner.Shell($"skopeo copy -q oci:{TestImages.Layout}:{TestImages.Busybox} docker-archive:{archive}:quay.io/coreos/hyperkube:v1.5.4_coreos.0 && gzip {archive}");

        var imported = Kubefly("image", "import", "--quiet", archive + ".gz");

        Assert.True(imported.ExitCode == 0, imported.ToString());
        Assert.Contains("quay.io/coreos/hyperkube:v1.5.4_coreos.0", imported.StandardOutput, StringComparison.Ordinal);
        var found = Kubefly("fetch", "--quiet", "--pull-policy=never", "quay.io/coreos/hyperkube:v1.5.4_coreos.0");
        Assert.True(found.ExitCode == 0, found.ToString());
        Assert.StartsWith(found.StandardOutput.Trim(), imported.StandardOutput, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_state.Path, "images", "tmp")));
    }

    [Fact]
    public void A_zstd_oci_archive_carrying_a_full_reference_is_named_by_it()
    {
        var archive = _work.Combine("etcd.tar");
        ProgramRunner.Shell($"skopeo copy -q oci:{TestImages.Layout}:{TestImages.Busybox} oci-archive:{archive}:quay.io/coreos/etcd:v3.4.0 && zstd -q --rm {archive}");

        var imported = Kubefly("image", "import", archive + ".zst");

        Assert.True(imported.ExitCode == 0, imported.ToString());
        Assert.Contains("quay.io/coreos/etcd:v3.4.0", Kubefly("image", "list", "--fields=name", "--no-legend").StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void An_archive_that_does_not_name_its_image_needs_name()
    {
        var archive = _work.Combine("bare.tar");
        ProgramRunner.Shell($"skopeo copy -q oci:{TestImages.Layout}:{TestImages.Busybox} oci-archive:{archive}:latest");

        var unnamed = Kubefly("image", "import", archive);
        Assert.Equal(254, unnamed.ExitCode);
        Assert.Contains("give it one with --name=HOST/NAME:TAG", unnamed.StandardError, StringComparison.Ordinal);

        var named = Kubefly("image", "import", "--name=registry.example.com/tools/busybox:1", archive);
        Assert.True(named.ExitCode == 0, named.ToString());
        Assert.Contains("registry.example.com/tools/busybox:1", named.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(2, Kubefly("image", "import", "--name=x.io/a:1", archive, archive).ExitCode);
    }

    [Theory]
    [InlineData("not an archive at all\n", "is not a tar archive")]
    [InlineData("", "is not a tar archive")]
    [InlineData(null, "is truncated or not a tar archive")]
    public void A_file_that_is_no_image_archive_is_refused_and_nothing_is_stored(string? content, string message)
    {
        var file = _work.Combine("junk.tar");
        File.WriteAllText(file, content ?? new string('x', 4096)); // null: long enough for a tar, without its end blocks

        var result = Kubefly("image", "import", file);

        Assert.Equal(254, result.ExitCode);
        Assert.Contains(message, result.StandardError, StringComparison.Ordinal);
        Assert.Contains(file, result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tar_holding_neither_layout_nor_manifest_and_a_truncated_gzip_are_refused()
    {
        var other = _work.Combine("other.tar");
        ProgramRunner.Shell($"tar -cf {other} -C {_work.Path} policy.json");
        Assert.Contains("neither an OCI archive", Kubefly("image", "import", other).StandardError, StringComparison.Ordinal);

        var archive = _work.Combine("cut.tar");
        ProgramRunner.Shell($"skopeo copy -q oci:{TestImages.Layout}:{TestImages.Busybox} docker-archive:{archive}:quay.io/x/y:1 && gzip {archive} && truncate -s 50000 {archive}.gz");
        var truncated = Kubefly("image", "import", archive + ".gz");
        Assert.Equal(254, truncated.ExitCode);
        Assert.Contains("is truncated or not a tar archive", truncated.StandardError, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_state.Path, "images", "tmp")));
    }

    [Fact]
    public void The_policy_scope_is_the_archive_s_own_path_even_compressed()
    {
        var archive = _work.Combine("hyperkube.tar");
        ProgramRunner.Shell($"skopeo copy -q oci:{TestImages.Layout}:{TestImages.Busybox} docker-archive:{archive}:quay.io/coreos/hyperkube:v1 && gzip {archive}");
        File.WriteAllText(_policy, "{\"default\": [{\"type\": \"insecureAcceptAnything\"}], \"transports\": {\"docker-archive\": {\"" + _work.Path + "\": [{\"type\": \"reject\"}]}}}");

        var result = Kubefly("image", "import", archive + ".gz");

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"docker-archive:{archive}.gz is refused by the policy", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void An_archive_dropped_into_the_import_directory_is_imported_once_when_an_image_is_needed()
    {
        var import = Path.Combine(_state.Path, "import");
        Directory.CreateDirectory(import);
        ProgramRunner.Shell($"skopeo copy -q oci:{TestImages.Layout}:{TestImages.Busybox} docker-archive:{import}/hyperkube.tar:quay.io/coreos/hyperkube:v1.5.4_coreos.0");
        File.WriteAllText(Path.Combine(import, "broken.tar"), "not an archive");

        var first = Kubefly("fetch", "--pull-policy=never", "quay.io/coreos/hyperkube:v1.5.4_coreos.0");

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains($"imported {import}/hyperkube.tar as quay.io/coreos/hyperkube:v1.5.4_coreos.0", first.StandardError, StringComparison.Ordinal);
        Assert.Contains($"{import}/broken.tar was not imported and is moved to {import}/failed/broken.tar", first.StandardError, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(import, "failed", "broken.tar.error")));
        Assert.False(File.Exists(Path.Combine(import, "broken.tar")));

        // Imported once: removed from the store, the same file is not imported again.
        Assert.True(Kubefly("image", "rm", "quay.io/coreos/hyperkube:v1.5.4_coreos.0").ExitCode == 0);
        var again = Kubefly("fetch", "--pull-policy=never", "quay.io/coreos/hyperkube:v1.5.4_coreos.0");
        Assert.Equal(254, again.ExitCode);
        Assert.DoesNotContain("imported", again.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("broken.tar", again.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void An_import_directory_others_can_write_to_is_refused()
    {
        var import = Path.Combine(_state.Path, "import");
        Directory.CreateDirectory(import);
        File.SetUnixFileMode(import, (UnixFileMode)0b111_111_111);
        File.WriteAllText(Path.Combine(import, "planted.tar"), "x");

        var result = Kubefly("image", "import", "--pending");

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"refusing to use state directory {import}: it is writable by group or others", result.StandardError, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(import, "planted.tar")), "nothing was touched");
    }

    [Fact]
    public void Unit_import_prints_a_path_unit_for_the_import_directory()
    {
        var units = Kubefly("unit", "import");

        Assert.True(units.ExitCode == 0, units.ToString());
        Assert.Contains($"PathChanged={_state.Path}/import", units.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"ExecStart=/usr/bin/kubefly --dir={_state.Path} image import --pending", units.StandardOutput, StringComparison.Ordinal);
    }

    private ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run(["--dir", _state.Path, $"--policy={_policy}", .. arguments]);
}
