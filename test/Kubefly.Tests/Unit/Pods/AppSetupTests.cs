using Kubefly.Cli;
using Kubefly.Oci;
using Kubefly.Pods;

namespace Kubefly.Tests.Unit.Pods;

public sealed class AppSetupTests
{
    private static RunArguments Parse(params string[] tokens) => RunArgumentsParser.Parse(tokens);

    [Fact]
    public void Environment_precedence_is_inherited_then_image_then_file_then_set_env_then_environment()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "FILE=file\nSET=file\nAPP=file\n");
            var run = Parse("--inherit-env", $"--set-env-file={file}", "--set-env=SET=set", "--set-env=APP=set", "img", "--environment=APP=app");
            var inherited = new Dictionary<string, string> { ["PARENT"] = "parent", ["IMAGE"] = "parent", ["FILE"] = "parent", ["SET"] = "parent", ["APP"] = "parent" };

            var environment = AppSetup.Environment(run, ["IMAGE=image", "FILE=image", "PATH=/bin"], inherited);

            Assert.Equal(["APP=app", "FILE=file", "IMAGE=image", "PARENT=parent", "SET=set", "PATH=/bin"], environment);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void The_parent_environment_stays_out_without_inherit_env()
    {
        var environment = AppSetup.Environment(Parse("img"), ["A=1"], new Dictionary<string, string> { ["SECRET"] = "x" });

        Assert.DoesNotContain(environment, e => e.StartsWith("SECRET=", StringComparison.Ordinal));
    }

    [Fact]
    public void Path_defaults_to_rkt_s_when_nothing_sets_it()
    {
        Assert.Equal([$"PATH={AppSetup.DefaultPath}"], AppSetup.Environment(Parse("img"), null, null));
        Assert.Equal(["PATH=/opt"], AppSetup.Environment(Parse("--set-env=PATH=/opt", "img"), ["PATH=/bin"], null));
    }

    [Fact]
    public void Argv_is_entrypoint_plus_cmd()
    {
        var config = new ContainerConfig { Entrypoint = ["/entry", "-x"], Cmd = ["serve"] };

        Assert.Equal(["/entry", "-x", "serve"], AppSetup.Arguments(Parse("img").App, config, "img"));
    }

    /// <summary>
    /// rkt's rule for every image shape: exec is Entrypoint + Cmd, --exec replaces all of it, arguments
    /// after `--` are appended, a bare `--` (or `-- ---`) adds nothing. "none" is an expected error.
    /// </summary>
    [Theory]
    // CMD only: the etcd image's shape (CMD ["/usr/local/bin/etcd"], no ENTRYPOINT).
    [InlineData("cmd", "", "", "/usr/local/bin/etcd")]
    [InlineData("cmd", "", "--", "/usr/local/bin/etcd")]
    [InlineData("cmd", "", "-- ---", "/usr/local/bin/etcd")]
    [InlineData("cmd", "", "-- --listen=x --v", "/usr/local/bin/etcd --listen=x --v")]
    [InlineData("cmd", "--exec=/bin/sh", "", "/bin/sh")]
    [InlineData("cmd", "--exec=/bin/sh", "--", "/bin/sh")]
    [InlineData("cmd", "--exec=/bin/sh", "-- -c true", "/bin/sh -c true")]
    // ENTRYPOINT only.
    [InlineData("entrypoint", "", "", "/entry -x")]
    [InlineData("entrypoint", "", "--", "/entry -x")]
    [InlineData("entrypoint", "", "-- a b", "/entry -x a b")]
    [InlineData("entrypoint", "--exec=/bin/sh", "", "/bin/sh")]
    [InlineData("entrypoint", "--exec=/bin/sh", "-- a", "/bin/sh a")]
    // Both: the arguments follow Cmd; they do not replace it.
    [InlineData("both", "", "", "/entry -x serve")]
    [InlineData("both", "", "--", "/entry -x serve")]
    [InlineData("both", "", "-- a b", "/entry -x serve a b")]
    [InlineData("both", "--exec=/kubelet", "", "/kubelet")]
    [InlineData("both", "--exec=/kubelet", "--", "/kubelet")]
    [InlineData("both", "--exec=/kubelet", "-- --v=2", "/kubelet --v=2")]
    // Neither: only --exec gives a program.
    [InlineData("neither", "", "", "none")]
    [InlineData("neither", "", "--", "none")]
    [InlineData("neither", "", "-- a", "none")]
    [InlineData("neither", "--exec=/bin/true", "", "/bin/true")]
    [InlineData("neither", "--exec=/bin/true", "-- a", "/bin/true a")]
    public void Argv_follows_rkt_exec_then_appended_arguments(string shape, string exec, string tail, string expected)
    {
        var config = shape switch
        {
            "cmd" => new ContainerConfig { Cmd = ["/usr/local/bin/etcd"] },
            "entrypoint" => new ContainerConfig { Entrypoint = ["/entry", "-x"] },
            "both" => new ContainerConfig { Entrypoint = ["/entry", "-x"], Cmd = ["serve"] },
            _ => new ContainerConfig(),
        };
        string[] tokens = ["img", .. exec.Split(' ', StringSplitOptions.RemoveEmptyEntries), .. tail.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        var app = Parse(tokens).App;

        if (expected == "none")
        {
            Assert.Throws<KubeflyException>(() => AppSetup.Arguments(app, config, "img"));
        }
        else
        {
            Assert.Equal(expected.Split(' '), AppSetup.Arguments(app, config, "img"));
        }
    }

    [Fact]
    public void An_image_whose_cmd_is_empty_and_entrypoint_missing_is_refused_even_with_arguments()
    {
        var error = Assert.Throws<KubeflyException>(() => AppSetup.Arguments(Parse("img", "--", "--listen=x").App, new ContainerConfig { Cmd = [] }, "etcd"));

        Assert.Contains("has an empty \"exec\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_command_is_rkt_s_error()
    {
        var error = Assert.Throws<KubeflyException>(() => AppSetup.Arguments(Parse("img").App, new ContainerConfig(), "quay.io/x/y:1"));

        Assert.Equal("image \"quay.io/x/y:1\" has an empty \"exec\" (try --exec=BINARY)", error.Message);
    }

    [Fact]
    public void Working_dir_and_user_come_from_the_image_unless_overridden()
    {
        var config = new ContainerConfig { WorkingDir = "/srv", User = "daemon" };

        Assert.Equal("/srv", AppSetup.WorkingDirectory(Parse("img").App, config));
        Assert.Equal("/tmp", AppSetup.WorkingDirectory(Parse("img", "--working-dir=/tmp").App, config));
        Assert.Equal("/", AppSetup.WorkingDirectory(Parse("img").App, null));
        Assert.Equal("daemon", AppSetup.User(Parse("img").App, config));
        Assert.Equal("1000:1000", AppSetup.User(Parse("img", "--user=1000:1000").App, config));
        Assert.Null(AppSetup.User(Parse("img").App, null));
    }

    [Theory]
    [InlineData("docker://quay.io/coreos/hyperkube:v1.5.4_coreos.0", "hyperkube")]
    [InlineData("quay.io/coreos/etcd@sha256:abc", "etcd")]
    [InlineData("docker.io/library/busybox:latest", "busybox")]
    [InlineData("oci:/images/My_App:1", "my-app")]
    public void App_name_defaults_to_the_repository_s_last_element(string image, string expected) =>
        Assert.Equal(expected, AppSetup.AppName(Parse("img").App, image));

    [Fact]
    public void App_name_flag_wins() => Assert.Equal("kubelet", AppSetup.AppName(Parse("img", "--name=kubelet").App, "x/hyperkube"));
}
