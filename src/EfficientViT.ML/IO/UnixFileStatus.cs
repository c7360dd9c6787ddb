using System.Runtime.InteropServices;

namespace EfficientViT.ML.IO;

/// <summary>The kinds of file a Linux path can name.</summary>
internal enum UnixFileKind
{
    /// <summary>Nothing by that name (or a name the file system holds in bytes that are not UTF-8, which .NET cannot pass back).</summary>
    Missing,

    /// <summary>A regular file.</summary>
    Regular,

    /// <summary>A directory.</summary>
    Directory,

    /// <summary>A symbolic link (only when links are not followed).</summary>
    SymbolicLink,

    /// <summary>A named pipe: opening it for reading waits for a writer, for ever if none comes.</summary>
    Fifo,

    /// <summary>A character device, such as /dev/zero: endless data.</summary>
    CharacterDevice,

    /// <summary>A block device.</summary>
    BlockDevice,

    /// <summary>A Unix socket.</summary>
    Socket,

    /// <summary>It could not be told (no permission to look, or an unknown kind).</summary>
    Unknown,
}

/// <summary>
/// What a path names on Linux, read with <c>statx</c>: the kind of file, and its identity (device and inode),
/// which .NET's file APIs do not give: a named pipe is a "file" to them, and two links to one file are two files.
/// </summary>
/// <param name="Kind">The kind of file.</param>
/// <param name="Device">The device it is on.</param>
/// <param name="Inode">Its inode number on that device.</param>
internal readonly record struct UnixFileStatus(UnixFileKind Kind, ulong Device, ulong Inode)
{
    private const int CurrentDirectory = -100;          // AT_FDCWD
    private const int DoNotFollowLinks = 0x100;         // AT_SYMLINK_NOFOLLOW
    private const uint TypeAndInode = 0x001 | 0x100;    // STATX_TYPE | STATX_INO
    private const int NoSuchFile = 2, NotADirectory = 20;

    /// <summary>
    /// What <paramref name="path"/> names (the file a link leads to, when <paramref name="followLinks"/>); null off
    /// Linux or where the C library has no <c>statx</c> (glibc before 2.28), where nothing is known.
    /// </summary>
    public static UnixFileStatus? Of(string path, bool followLinks = true)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        try
        {
            if (statx(CurrentDirectory, path, followLinks ? 0 : DoNotFollowLinks, TypeAndInode, out var status) != 0)
                return new UnixFileStatus(Marshal.GetLastPInvokeError() is NoSuchFile or NotADirectory ? UnixFileKind.Missing : UnixFileKind.Unknown, 0, 0);
            return new UnixFileStatus(KindOf(status.Mode), ((ulong)status.DeviceMajor << 32) | status.DeviceMinor, status.Inode);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The kind in words, for messages ("a named pipe").</summary>
    public static string Describe(UnixFileKind kind) => kind switch
    {
        UnixFileKind.Fifo => "a named pipe (FIFO)",
        UnixFileKind.CharacterDevice => "a character device",
        UnixFileKind.BlockDevice => "a block device",
        UnixFileKind.Socket => "a socket",
        UnixFileKind.Directory => "a directory",
        UnixFileKind.SymbolicLink => "a symbolic link",
        UnixFileKind.Missing => "missing",
        UnixFileKind.Regular => "a regular file",
        _ => "of a kind that cannot be told",
    };

    // The file-type bits of st_mode (S_IFMT).
    private static UnixFileKind KindOf(ushort mode) => (mode & 0xF000) switch
    {
        0x8000 => UnixFileKind.Regular,
        0x4000 => UnixFileKind.Directory,
        0xA000 => UnixFileKind.SymbolicLink,
        0x1000 => UnixFileKind.Fifo,
        0x2000 => UnixFileKind.CharacterDevice,
        0x6000 => UnixFileKind.BlockDevice,
        0xC000 => UnixFileKind.Socket,
        _ => UnixFileKind.Unknown,
    };

    // struct statx, whose layout is the same on every Linux architecture (linux/stat.h); only the fields read here.
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(28)]
        public ushort Mode;

        [FieldOffset(32)]
        public ulong Inode;

        [FieldOffset(136)]
        public uint DeviceMajor;

        [FieldOffset(140)]
        public uint DeviceMinor;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int directory, string path, int flags, uint mask, out StatxBuffer status);
}
