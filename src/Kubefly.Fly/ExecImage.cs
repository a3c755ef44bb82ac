using System.Runtime.InteropServices;
using System.Text;
using Kubefly.Linux;

namespace Kubefly.Fly;

/// <summary>
/// The program to exec, laid out in native memory beforehand (argv, envp and every PATH candidate as
/// NUL-terminated strings) so that the exec loop after chroot allocates nothing.
/// </summary>
internal sealed unsafe class ExecImage : IDisposable
{
    /// <summary>The PATH used when the app's environment has none (the usual container default).</summary>
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private readonly List<nint> _allocations = [];
    private readonly nint[] _candidates;
    private readonly byte** _argv;
    private readonly byte** _envp;

    private ExecImage(IReadOnlyList<string> arguments, IReadOnlyList<string> environment, string? executable)
    {
        Name = executable ?? arguments[0];
        _candidates = (executable is null ? Candidates(arguments[0], environment) : [executable]).Select(c => (nint)Native(c)).ToArray();
        _argv = NativeArray(arguments);
        _envp = NativeArray(environment);
    }

    public string Name { get; }

    /// <param name="executable">The file to run when it is not argv[0] looked up in PATH.</param>
    public static ExecImage Create(IReadOnlyList<string> arguments, IReadOnlyList<string> environment, string? executable = null)
    {
        foreach (var text in arguments.Concat(environment))
        {
            if (text.Contains('\0', StringComparison.Ordinal))
            {
                throw new FlyException($"fly: argument or environment entry contains a NUL byte: {text.Replace("\0", "\\0", StringComparison.Ordinal)}");
            }
        }

        return new ExecImage(arguments, environment, executable);
    }

    /// <summary>
    /// Where execve is tried, in order: argv[0] itself when it holds a slash, else each PATH entry of the
    /// app's environment (an empty entry meaning the working directory), as execvp does.
    /// </summary>
    public static IReadOnlyList<string> Candidates(string name, IReadOnlyList<string> environment)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return [name];
        }

        var path = environment.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?["PATH=".Length..] ?? DefaultPath;
        return path.Split(':').Select(dir => dir.Length == 0 ? name : dir.TrimEnd('/') + "/" + name).Distinct().ToList();
    }

    /// <summary>Tries every candidate; returns only on failure, with the errno execvp would report.</summary>
    public int Exec()
    {
        var sawPermissionDenied = false;
        var last = Errno.ENOENT;
        foreach (var candidate in _candidates)
        {
            var errno = Interop.Execve((byte*)candidate, _argv, _envp);
            switch (errno)
            {
                case Errno.EACCES:
                    sawPermissionDenied = true;
                    break;
                case Errno.ENOENT or Errno.ENOTDIR or Errno.ELOOP or Errno.ENAMETOOLONG or ESTALE or ENODEV or ETIMEDOUT:
                    last = errno;
                    break;
                default:
                    return errno;
            }
        }

        return sawPermissionDenied ? Errno.EACCES : last;
    }

    public void Dispose()
    {
        foreach (var allocation in _allocations)
        {
            NativeMemory.Free((void*)allocation);
        }

        _allocations.Clear();
    }

    private const int ENODEV = 19;
    private const int ETIMEDOUT = 110;
    private const int ESTALE = 116;

    private byte* Native(string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        var memory = (byte*)NativeMemory.Alloc((nuint)length + 1);
        _allocations.Add((nint)memory);
        Encoding.UTF8.GetBytes(text, new Span<byte>(memory, length));
        memory[length] = 0;
        return memory;
    }

    private byte** NativeArray(IReadOnlyList<string> texts)
    {
        var array = (byte**)NativeMemory.Alloc((nuint)(texts.Count + 1), (nuint)sizeof(byte*));
        _allocations.Add((nint)array);
        for (var i = 0; i < texts.Count; i++)
        {
            array[i] = Native(texts[i]);
        }

        array[texts.Count] = null;
        return array;
    }
}
