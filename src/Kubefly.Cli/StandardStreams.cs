using System.Text;
using Kubefly.Linux;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Cli;

/// <summary>
/// Console.Out and Console.Error over plain writes to descriptors 1 and 2. System.Console's own
/// streams set the terminal up on first write when stdin is one: they emit keypad_xmit and never undo
/// it (dotnet/runtime's known issue), which leaves ksh's arrow keys broken after `kubefly list`, and
/// after an exec the app would inherit the switched terminal. A reader that went away (`| head`) is
/// not an error, as with Console: further output is dropped.
/// </summary>
internal static class StandardStreams
{
    public static void Install()
    {
        Console.SetOut(Writer(1));
        Console.SetError(Writer(2));
    }

    private static StreamWriter Writer(int descriptor) =>
        new(new DescriptorStream(descriptor), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 4096) { AutoFlush = true };

    private sealed class DescriptorStream(int descriptor) : Stream
    {
        private readonly SafeFileHandle handle = new(descriptor, ownsHandle: false);
        private bool readerGone;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            while (!readerGone && !buffer.IsEmpty)
            {
                var errno = Interop.TryWriteAll(handle, buffer, out var written);
                buffer = buffer[written..];
                switch (errno)
                {
                    case 0:
                        return;
                    case Errno.EPIPE or Errno.EBADF:
                        // The reader went away, or there never was a stream here: drop output, as Console does.
                        readerGone = true;
                        return;
                    case Errno.EAGAIN:
                        // A descriptor inherited non-blocking and full: wait for the reader.
                        Thread.Sleep(1);
                        continue;
                    default:
                        throw new IOException($"write to descriptor {descriptor}: {Errno.Describe(errno)}");
                }
            }
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
