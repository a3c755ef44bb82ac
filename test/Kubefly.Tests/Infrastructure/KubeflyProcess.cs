using System.Diagnostics;

namespace Kubefly.Tests.Infrastructure;

/// <summary>The outcome of running a real program.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StandardOutput}\n--- stderr\n{StandardError}";
}

/// <summary>Runs the real NativeAOT binary (artifacts/bin/kubefly, or $KUBEFLY_BIN) as a user would.</summary>
public static class KubeflyProcess
{
    public static string BinaryPath { get; } = LocateBinary();

    /// <summary>Runs kubefly with <paramref name="arguments"/>; <paramref name="invokeAs"/> picks the multi-call name.</summary>
    public static ProcessResult Run(IEnumerable<string> arguments, IDictionary<string, string?>? environment = null, string? invokeAs = null, TimeSpan? timeout = null, string? standardInput = null)
    {
        var path = BinaryPath;
        if (invokeAs is not null)
        {
            path = Path.Combine(Path.GetDirectoryName(BinaryPath)!, invokeAs);
            if (!File.Exists(path))
            {
                File.CreateSymbolicLink(path, "kubefly");
            }
        }

        return ProgramRunner.Run(path, arguments, environment, timeout, standardInput);
    }

    public static ProcessResult Run(params string[] arguments) => Run((IEnumerable<string>)arguments);

    /// <summary>
    /// Runs kubefly as on a node with no trust policy at all (where rkt's rule for docker images holds):
    /// in a private mount namespace whose /etc/containers is an empty tmpfs, with a HOME that has none.
    /// </summary>
    public static ProcessResult RunOnANodeWithoutPolicy(IEnumerable<string> arguments, IDictionary<string, string?>? environment = null)
    {
        var variables = new Dictionary<string, string?>(environment ?? new Dictionary<string, string?>()) { ["HOME"] = "/nonexistent", ["KUBEFLY_POLICY"] = null };
        return ProgramRunner.Run(
            "unshare",
            ["--mount", "--propagation", "private", "sh", "-c", "if [ -d /etc/containers ]; then mount -t tmpfs -o size=64k kubefly-no-policy /etc/containers || exit 125; fi; exec \"$0\" \"$@\"", BinaryPath, .. arguments],
            variables);
    }

    /// <summary>Starts kubefly without waiting (a pod to stop or kill, a fetch to race); output is redirected.</summary>
    public static Process Start(IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(BinaryPath) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start kubefly");
    }

    private static string LocateBinary()
    {
        var fromEnv = Environment.GetEnvironmentVariable("KUBEFLY_BIN");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return fromEnv;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "artifacts", "bin", "kubefly");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("kubefly binary not found: run `make build` or set KUBEFLY_BIN");
    }
}

/// <summary>Runs any program to completion with captured output and a hard timeout.</summary>
public static class ProgramRunner
{
    public static ProcessResult Run(string fileName, IEnumerable<string> arguments, IDictionary<string, string?>? environment = null, TimeSpan? timeout = null, string? standardInput = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                if (value is null)
                {
                    info.Environment.Remove(key);
                }
                else
                {
                    info.Environment[key] = value;
                }
            }
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            process.StandardInput.Write(standardInput);
        }

        process.StandardInput.Close();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"{fileName} {string.Join(' ', info.ArgumentList)} did not finish in time\n--- stdout so far\n{stdout.GetAwaiter().GetResult()}\n--- stderr so far\n{stderr.GetAwaiter().GetResult()}");
        }

        return new ProcessResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    /// <summary>Runs a shell command line (for test setup: skopeo, umoci, mount); throws on failure.</summary>
    public static string Shell(string script, TimeSpan? timeout = null)
    {
        var result = Run("/bin/bash", ["-euo", "pipefail", "-c", script], timeout: timeout ?? TimeSpan.FromMinutes(5));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"setup command failed: {script}\n{result}");
        }

        return result.StandardOutput;
    }
}
