using Kubefly.Oci;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Images.Unpacking;

/// <summary>
/// A tar stream some of whose file contents are files the store already holds (a partial pull's
/// rebuild): the unpacker may give such a file a second name instead of writing a copy.
/// </summary>
public interface ILocalContent
{
    /// <summary>
    /// Called at the start of a file's content, before any of it is read: when the next
    /// <paramref name="length"/> bytes of the stream will be read from a stored file, that file, opened
    /// (the stream then reads from this very descriptor), with its content digest; else null.
    /// </summary>
    (SafeFileHandle File, Digest Digest)? TryClaim(string path, long length);
}
