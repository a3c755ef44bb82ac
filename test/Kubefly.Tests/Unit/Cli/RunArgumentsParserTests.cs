using Kubefly.Cli;
using Kubefly.Fly;
using Kubefly.Images;
using Kubefly.Pods;

namespace Kubefly.Tests.Unit.Cli;

public sealed class RunArgumentsParserTests
{
    private static RunArguments Parse(params string[] tokens) => RunArgumentsParser.Parse(tokens);

    private static string Error(params string[] tokens) => Assert.Throws<UsageException>(() => Parse(tokens)).Message;

    [Fact]
    public void Flags_before_the_image_are_pod_wide_and_after_it_per_app()
    {
        var run = Parse("--volume=data,kind=host,source=/srv", "--mount", "volume=data,target=/data", "--set-env=A=1",
            "docker://busybox", "--exec=/bin/sh", "--user", "1000", "--group=1000", "--working-dir=/tmp", "--name=box",
            "--environment=B=2", "--mount=volume=data,target=/other");

        Assert.Equal("docker://busybox", run.App.Image);
        Assert.Equal("/bin/sh", run.App.Exec);
        Assert.Equal("1000", run.App.User);
        Assert.Equal("1000", run.App.Group);
        Assert.Equal("/tmp", run.App.WorkingDirectory);
        Assert.Equal("box", run.App.Name);
        Assert.Equal([new KeyValuePair<string, string>("B", "2")], run.App.Environment);
        Assert.Equal("/data", Assert.Single(run.PodMounts).Target);
        Assert.Equal("/other", Assert.Single(run.App.Mounts).Target);
        Assert.Equal([new KeyValuePair<string, string>("A", "1")], run.ExplicitEnvironment);
        Assert.Null(run.App.Arguments);
    }

    [Fact]
    public void Double_dash_starts_app_arguments_and_triple_dash_ends_them()
    {
        var run = Parse("img", "--exec=/kubelet", "--", "--api-servers=x", "--", "-v", "---", "--inherit-env");

        Assert.Equal(["--api-servers=x", "--", "-v"], run.App.Arguments!);
        Assert.True(run.InheritEnvironment);
    }

    [Fact]
    public void App_arguments_run_to_the_end_without_a_terminator()
    {
        var run = Parse("img", "--", "--uuid-file-save=/x", "---x");

        Assert.Equal(["--uuid-file-save=/x", "---x"], run.App.Arguments!);
        Assert.Null(run.UuidFileSave);
    }

    [Fact]
    public void App_arguments_before_any_image_are_an_error() =>
        Assert.Equal("an image is required before any app arguments", Error("--inherit-env", "--", "x"));

    [Fact]
    public void Two_sets_of_app_arguments_for_one_image_are_an_error() =>
        Assert.Equal("only one set of app arguments allowed per image", Error("img", "--", "a", "---", "--", "b"));

    [Fact]
    public void More_than_one_image_is_an_error() =>
        Assert.Equal("fly only supports 1 application per Pod for now", Error("img1", "--", "a", "---", "img2"));

    [Fact]
    public void No_image_is_an_error() =>
        Assert.Equal("must provide at least one image or specify the pod manifest", Error("--inherit-env"));

    [Theory]
    [InlineData("--exec")]
    [InlineData("--user")]
    [InlineData("--group")]
    [InlineData("--working-dir")]
    [InlineData("--name")]
    [InlineData("--environment")]
    [InlineData("--signature")]
    [InlineData("--memory")]
    public void Per_app_flags_must_follow_an_image(string flag) =>
        Assert.Equal($"{flag} must follow an image", Error($"{flag}=x=y", "img"));

    [Theory]
    [InlineData("img", "--signature=/etc/kubelet.sig")]
    [InlineData("img", "--signature", "/etc/kubelet.sig")]
    public void A_per_run_signature_file_is_refused_pointing_to_the_trust_policy(params string[] tokens) =>
        Assert.Equal("--signature=/etc/kubelet.sig: kubefly verifies images with its trust policy, not per-run signature files", Error(tokens));

    [Fact]
    public void Exec_twice_for_one_image_is_an_error() =>
        Assert.Equal("--exec specified multiple times for the same image", Error("img", "--exec=/a", "--exec=/b"));

    [Fact]
    public void Flags_take_their_value_in_either_form()
    {
        var joined = Parse("--uuid-file-save=/run/u", "--pull-policy=never", "img", "--exec=/a");
        var split = Parse("--uuid-file-save", "/run/u", "--pull-policy", "never", "img", "--exec", "/a");

        Assert.Equal(joined, split with { Apps = joined.Apps, Volumes = joined.Volumes, PodMounts = joined.PodMounts, EnvironmentFromFiles = joined.EnvironmentFromFiles, ExplicitEnvironment = joined.ExplicitEnvironment, HostsEntries = joined.HostsEntries, Notices = joined.Notices });
        Assert.Equal("/run/u", split.UuidFileSave);
        Assert.Equal(PullPolicy.Never, split.PullPolicy);
        Assert.Equal("/a", split.App.Exec);
    }

    [Fact]
    public void A_flag_without_its_value_is_an_error() =>
        Assert.Equal("flag needs an argument: --exec", Error("img", "--exec"));

    [Fact]
    public void Unknown_flags_are_errors()
    {
        Assert.Equal("unknown flag: --bogus", Error("--bogus", "img"));
        Assert.Equal("unknown shorthand flag: 'x' in -x", Error("-x", "img"));
    }

    [Fact]
    public void Global_flags_are_handed_to_the_caller_wherever_run_flags_may_appear()
    {
        var seen = new List<string>();
        var run = RunArgumentsParser.Parse(["--insecure-options=image", "--dir", "/var/lib/x", "img", "--debug"], (IReadOnlyList<string> tokens, ref int index) =>
        {
            var token = tokens[index];
            if (token.StartsWith("--insecure-options", StringComparison.Ordinal) || token == "--debug")
            {
                seen.Add(token);
                return true;
            }

            if (token == "--dir")
            {
                seen.Add(tokens[++index]);
                return true;
            }

            return false;
        });

        Assert.Equal(["--insecure-options=image", "/var/lib/x", "--debug"], seen);
        Assert.Equal("img", run.App.Image);
    }

    [Theory]
    [InlineData("new", PullPolicy.New)]
    [InlineData("never", PullPolicy.Never)]
    [InlineData("update", PullPolicy.Update)]
    public void Pull_policies_parse(string value, PullPolicy expected) =>
        Assert.Equal(expected, Parse($"--pull-policy={value}", "img").PullPolicy);

    [Fact]
    public void Pull_policy_default_is_new_and_deprecated_flags_map_onto_it()
    {
        Assert.Equal(PullPolicy.New, Parse("img").PullPolicy);
        Assert.Equal(PullPolicy.Never, Parse("--store-only", "img").PullPolicy);
        Assert.Equal(PullPolicy.Update, Parse("--no-store", "img").PullPolicy);
        Assert.Equal("both --store-only and --no-store specified", Error("--store-only", "--no-store", "img"));
        Assert.StartsWith("invalid value \"sometimes\" for --pull-policy", Error("--pull-policy=sometimes", "img"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--stage1-from-dir=stage1-fly.aci")]
    [InlineData("--stage1-name=coreos.com/rkt/stage1-fly:1.30.0")]
    [InlineData("--stage1-path=/usr/lib/rkt/stage1-images/stage1-fly.aci")]
    [InlineData("--stage1-url=https://example.com/stage1-fly-1.30.0.aci")]
    public void Stage1_flags_naming_fly_are_accepted(string flag) => Assert.Equal("img", Parse(flag, "img").App.Image);

    [Fact]
    public void Stage1_flags_naming_anything_else_are_rejected()
    {
        Assert.Contains("kubefly only runs its built-in fly stage", Error("--stage1-name=coreos.com/rkt/stage1-coreos:1.30.0", "img"), StringComparison.Ordinal);
        Assert.Contains("a hash cannot name it", Error("--stage1-hash=sha512-abc", "img"), StringComparison.Ordinal);
        Assert.Equal("flags --stage1-name and --stage1-from-dir are mutually exclusive", Error("--stage1-from-dir=stage1-fly.aci", "--stage1-name=stage1-fly", "img"));
        Assert.Equal("--stage1-name already used", Error("--stage1-name=stage1-fly", "--stage1-name=stage1-fly", "img"));
    }

    [Fact]
    public void Flags_fly_cannot_honour_are_rejected_clearly()
    {
        Assert.Contains("--private-users is not supported", Error("--private-users", "img"), StringComparison.Ordinal);
        Assert.Equal("--port flag does not work with 'host' networking", Error("--port=http:8080", "img"));
        Assert.Contains("--pod-manifest is not supported", Error("--pod-manifest=/x", "img"), StringComparison.Ordinal);
        Assert.Contains("--readonly-rootfs is not supported", Error("img", "--readonly-rootfs=true"), StringComparison.Ordinal);
        Assert.Contains("--dns-search is not supported", Error("--dns-search=example.com", "img"), StringComparison.Ordinal);
        Assert.Contains("--ipc=private is not supported", Error("--ipc=private", "img"), StringComparison.Ordinal);
    }

    [Fact]
    public void Flags_fly_ignores_are_accepted()
    {
        var run = Parse("--net=host", "--hostname", "box", "--interactive", "--no-overlay", "img", "--memory=64M", "--cpu=500m", "--annotation=a=b");

        Assert.Equal("img", run.App.Image);
        Assert.Contains(run.Notices, n => n.StartsWith("--no-overlay ignored", StringComparison.Ordinal));
        Assert.Contains(run.Notices, n => n.StartsWith("--net=host ignored", StringComparison.Ordinal));
    }

    [Fact]
    public void A_bare_net_flag_does_not_swallow_the_image() => Assert.Equal("img", Parse("--net", "img").App.Image);

    [Fact]
    public void Dns_takes_host_none_or_addresses()
    {
        Assert.Null(Parse("img").Dns);
        Assert.Equal(["host"], Parse("--dns=host", "img").Dns!);
        Assert.Equal(["none"], Parse("--dns=none", "img").Dns!);
        Assert.Equal(["8.8.8.8", "1.1.1.1", "::1"], Parse("--dns=8.8.8.8,1.1.1.1", "--dns=::1", "img").Dns!);
        Assert.Equal("no other --dns options allowed when --dns=host is passed", Error("--dns=host", "--dns=8.8.8.8", "img"));
        Assert.Equal("Invalid IP passed to --dns: example.com", Error("--dns=example.com", "img"));
    }

    [Fact]
    public void Hosts_entries_take_host_or_ip_equals_name()
    {
        Assert.Empty(Parse("img").HostsEntries);
        Assert.Equal(["host"], Parse("--hosts-entry", "host", "img").HostsEntries);
        Assert.Equal(["10.0.0.1=a", "10.0.0.2=b"], Parse("--hosts-entry=10.0.0.1=a,10.0.0.2=b", "img").HostsEntries);
        Assert.Equal("Did not understand --hosts-entry nope", Error("--hosts-entry=nope", "img"));
        Assert.Equal("Invalid IP passed to --hosts-entry: a.b", Error("--hosts-entry=a.b=c", "img"));
        Assert.Equal("cannot pass --hosts-entry=host with multiple hosts-entries", Error("--hosts-entry=host", "--hosts-entry=10.0.0.1=a", "img"));
    }

    [Fact]
    public void Set_env_rejects_malformed_and_repeated_keys()
    {
        Assert.Contains("must be specified as key=value", Error("--set-env=NOVALUE", "img"), StringComparison.Ordinal);
        Assert.Contains("key \"A\" already set", Error("--set-env=A=1", "--set-env=A=2", "img"), StringComparison.Ordinal);
        Assert.Equal("invalid format of --environment flag \"X\": must be NAME=VALUE with a non-empty NAME", Error("img", "--environment=X"));
    }

    /// <summary>Regression: `--set-env='=x'` was accepted, a variable with no name.</summary>
    [Theory]
    [InlineData("--set-env==x")]
    [InlineData("--set-env==")]
    [InlineData("--set-env=A\0B=1")]
    public void Set_env_rejects_an_empty_or_nul_name(string flag) =>
        Assert.Contains("must be specified as key=value, with a non-empty key", Error(flag, "img"), StringComparison.Ordinal);

    [Theory]
    [InlineData("--environment==x")]
    [InlineData("--environment=A=\0")]
    public void Environment_rejects_an_empty_or_nul_name(string flag) =>
        Assert.Contains("must be NAME=VALUE with a non-empty NAME", Error("img", flag), StringComparison.Ordinal);

    [Fact]
    public void Set_env_file_rejects_an_empty_name()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "=x\n");
            Assert.Equal($"environment variable must be specified as name=value (file \"{file}\")", Error($"--set-env-file={file}", "img"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Environment_flag_repeated_keeps_the_last_value() =>
        Assert.Equal([new KeyValuePair<string, string>("A", "2")], Parse("img", "--environment=A=1", "--environment=A=2").App.Environment);

    [Fact]
    public void Set_env_file_reads_pairs_and_skips_comments()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "# comment\n; also a comment\n\nA=1\nB=x=y\n");
            Assert.Equal([new("A", "1"), new KeyValuePair<string, string>("B", "x=y")], Parse($"--set-env-file={file}", "img").EnvironmentFromFiles);

            File.WriteAllText(file, "A=1\nA=2\n");
            Assert.Equal($"environment variable \"A\" already set (file \"{file}\")", Error($"--set-env-file={file}", "img"));

            File.WriteAllText(file, "JUSTAWORD\n");
            Assert.Equal($"environment variable must be specified as name=value (file \"{file}\")", Error($"--set-env-file={file}", "img"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_missing_set_env_file_is_an_error_naming_it() =>
        Assert.Equal("invalid value \"/nonexistent/env\" for --set-env-file: open /nonexistent/env: no such file or directory", Error("--set-env-file=/nonexistent/env", "img"));

    [Fact]
    public void A_mount_naming_an_unknown_volume_is_an_error_naming_it()
    {
        Assert.Equal("dangling mount point \"/data\": volume \"data\" not found", Error("--mount=volume=data,target=/data", "img"));
        Assert.Equal("dangling mount point \"/x\": volume \"nope\" not found", Error("--volume=data,kind=host,source=/srv", "img", "--mount=volume=nope,target=/x"));
    }

    [Fact]
    public void Duplicate_volume_names_are_an_error() =>
        Assert.Equal("duplicate volume name \"data\"", Error("--volume=data,kind=host,source=/a", "--volume=data,kind=host,source=/b", "img"));

    [Fact]
    public void Mount_parameters_are_checked()
    {
        Assert.Equal("unknown mount parameter \"readOnly\"", Error("--volume=v,kind=host,source=/a", "--mount=volume=v,target=/x,readOnly=true", "img"));
        Assert.StartsWith("invalid volume name \"V\" in --mount flag", Error("--mount=volume=V,target=/x", "img"), StringComparison.Ordinal);
        Assert.Equal("missing target= in --mount flag \"volume=v\"", Error("--volume=v,kind=host,source=/a", "--mount=volume=v", "img"));
    }

    [Fact]
    public void A_relative_mount_target_means_the_same_path_from_the_root() =>
        Assert.Equal("/data", Parse("--volume=v,kind=host,source=/a", "--mount=volume=v,target=data", "img").PodMounts[0].Target);

    [Fact]
    public void An_app_mount_is_recorded_for_its_app_even_after_pod_wide_ones()
    {
        var run = Parse("--volume=v,kind=host,source=/a", "--volume=w,kind=host,source=/b", "--mount=volume=v,target=/x", "img", "--mount=volume=w,target=/x");

        Assert.Equal("v", Assert.Single(run.PodMounts).Volume);
        Assert.Equal("w", Assert.Single(run.App.Mounts).Volume);
    }

    [Fact]
    public void Volume_propagation_is_kubefly_s_extension_and_host_volumes_default_to_rkt_s_rule()
    {
        Assert.Equal(MountPropagation.AsOnHost, Parse("--volume=v,kind=host,source=/a", "img").Volumes[0].Propagation);
        Assert.Equal(MountPropagation.AsOnHost, Parse("--volume=v,kind=host,source=/a,recursive=true,readOnly=true", "img").Volumes[0].Propagation);
        Assert.Equal(MountPropagation.RSlave, Parse("--volume=v,kind=host,source=/a,propagation=rslave", "img").Volumes[0].Propagation);
        Assert.NotEqual(MountPropagation.AsOnHost, Parse("--volume=v,kind=empty", "img").Volumes[0].Propagation);
        Assert.Equal(MountPropagation.RShared, Parse("--volume=v,kind=host,source=/a,propagation=rshared", "img").Volumes[0].Propagation);
        Assert.Equal(MountPropagation.Private, Parse("--volume=v,kind=host,source=/a,propagation=private", "img").Volumes[0].Propagation);
    }
}
