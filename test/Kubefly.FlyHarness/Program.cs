using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Kubefly.Fly;
using Kubefly.Linux;

namespace Kubefly.FlyHarness;

/// <summary>
/// Runs the fly stage for the integration tests, which cannot call FlyStage.Exec in their own process
/// (it replaces the process):
///   Kubefly.FlyHarness PLAN.json                  FlyStage.Exec(plan)
///   Kubefly.FlyHarness enter PID ROOTFS -- ARGV   FlyStage.Enter(PID, ROOTFS, ARGV, [PATH=...])
/// A fly failure prints "kubefly: MESSAGE" on stderr and exits 254, as kubefly does.
/// </summary>
internal static class Program
{
    private const string EnterPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private static int Main(string[] args)
    {
        PrepareForChroot();
        IgnoreSignalsAsAParentMightHave();
        try
        {
            if (args is ["enter", var pid, var rootfs, "--", .. var command])
            {
                FlyStage.Enter(int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture), rootfs, command, [EnterPath]);
            }
            else if (args is [var planFile])
            {
                var plan = JsonSerializer.Deserialize(File.ReadAllText(planFile), HarnessJson.Default.FlyPlan)
                    ?? throw new InvalidOperationException($"{planFile}: empty plan");
                FlyStage.Exec(plan);
            }
            else
            {
                Console.Error.WriteLine("usage: Kubefly.FlyHarness PLAN.json | enter PID ROOTFS -- ARGV...");
                return 2;
            }
        }
        catch (FlyException e)
        {
            Console.Error.WriteLine("kubefly: " + e.Message);
            return 254;
        }

        throw new InvalidOperationException("unreachable: FlyStage.Exec and Enter never return");
    }

    /// <summary>
    /// KUBEFLY_HARNESS_IGNORE_SIGNALS=32 leaves those signals ignored, as a careless parent might: a shell's
    /// trap cannot reach 32, which glibc reserves (and only claims on first pthread_cancel), yet an ignored
    /// 32 survives exec. 33 is not a case: glibc installs its own handler at start-up, and ignoring it
    /// afterwards would hang setuid.
    /// </summary>
    private static void IgnoreSignalsAsAParentMightHave()
    {
        var list = Environment.GetEnvironmentVariable("KUBEFLY_HARNESS_IGNORE_SIGNALS");
        foreach (var signal in (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            Interop.IgnoreSignal(int.Parse(signal, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// Under the JIT (unlike the NativeAOT kubefly binary, which links libc statically and has no
    /// assemblies to load) two things would otherwise touch the filesystem after chroot, inside the
    /// image: probing for "libc" when a P/Invoke is first bound, and loading an assembly when a method is
    /// first compiled. So bind "libc" to the already loaded C library and load the fly stage's
    /// assemblies up front.
    /// </summary>
    private static void PrepareForChroot()
    {
        var libc = NativeLibrary.Load("libc.so.6");
        NativeLibrary.SetDllImportResolver(typeof(Interop).Assembly, (name, _, _) => name == "libc" ? libc : IntPtr.Zero);
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported)
        {
            return; // a NativeAOT build of the harness has no assemblies to load
        }

        var loaded = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<Assembly>([typeof(FlyStage).Assembly, typeof(Interop).Assembly]);
        while (pending.TryPop(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                if (reference.Name is not null && loaded.Add(reference.Name))
                {
                    pending.Push(Assembly.Load(reference));
                }
            }
        }
    }
}

/// <summary>The plan file format (tests write plans with it too).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(FlyPlan))]
public sealed partial class HarnessJson : JsonSerializerContext
{
}
