using System.Globalization;

namespace EfficientViT.ML.IO;

/// <summary>
/// A lock on a folder that one process holds at a time: an advisory lock on the file <c>.lock</c> in it (flock
/// on Linux and macOS, a share mode on Windows), which the operating system releases when the process ends,
/// however it ends. The holder writes its process id to <c>.lock.owner</c>, so that another process can say who
/// holds the folder.
/// </summary>
public sealed class FolderLock : IDisposable
{
    /// <summary>The file locked.</summary>
    public const string LockFile = ".lock";

    /// <summary>The file holding the holder's process id.</summary>
    public const string OwnerFile = ".lock.owner";

    // The errors that say another process holds the lock: EWOULDBLOCK (Linux), ERROR_SHARING_VIOLATION (Windows).
    private const int WouldBlock = 11;
    private const int SharingViolation = unchecked((int)0x80070020);

    private readonly FileStream locked;
    private readonly string ownerPath;

    private FolderLock(FileStream locked, string ownerPath)
    {
        this.locked = locked;
        this.ownerPath = ownerPath;
    }

    /// <summary>Locks <paramref name="folder"/>, creating it if it does not exist.</summary>
    /// <param name="folder">The folder.</param>
    /// <param name="what">What the folder is, for the message: "run folder".</param>
    /// <exception cref="IOException">Another process holds the lock (also another lock in this process); the message names the folder and the holder's process id.</exception>
    public static FolderLock Acquire(string folder, string what)
    {
        var full = Path.GetFullPath(folder);
        Directory.CreateDirectory(full);
        FileStream locked;
        try
        {
            locked = new FileStream(Path.Combine(full, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e.HResult is WouldBlock or SharingViolation)
        {
            throw new IOException($"{what} {full} in use by {Holder(full)}: two processes cannot write into one {what}.", e);
        }
        var ownerPath = Path.Combine(full, OwnerFile);
        try
        {
            AtomicFile.WriteAllText(ownerPath, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        }
        catch
        {
            locked.Dispose();
            throw;
        }
        return new FolderLock(locked, ownerPath);
    }

    /// <summary>Throws the <see cref="IOException"/> of <see cref="Acquire"/> when another process holds <paramref name="folder"/>'s lock; a folder that does not exist is free, and is not created.</summary>
    public static void ThrowIfHeld(string folder, string what)
    {
        if (Directory.Exists(folder))
            Acquire(folder, what).Dispose();
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose()
    {
        try
        {
            File.Delete(ownerPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The next holder writes its own id over it.
        }
        locked.Dispose();
    }

    // The holder as the owner file names it, read without locking: it may be a moment behind the lock.
    private static string Holder(string folder)
    {
        try
        {
            var text = File.ReadAllText(Path.Combine(folder, OwnerFile)).Trim();
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? $"process {id}" : "another process";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "another process";
        }
    }
}
