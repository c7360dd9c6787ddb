using System.Collections.Concurrent;

namespace EfficientViT.ML.IO;

/// <summary>
/// Writes files so that readers see either the old complete file or the new complete file, never a partial one.
/// </summary>
internal static class AtomicFile
{
    // The temporary files of writes in progress, for DeleteUnfinished.
    private static readonly ConcurrentDictionary<string, byte> Unfinished = new();

    /// <summary>
    /// Writes a file atomically: <paramref name="write"/> fills a temporary file in the same directory, which is
    /// flushed to disk and then renamed over <paramref name="path"/>. If <paramref name="write"/> throws, the
    /// temporary file is deleted and an existing file at <paramref name="path"/> is left untouched.
    /// The directory is created if it does not exist.
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="write">Writes the content to the given stream. It must not dispose the stream.</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);

        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)
            ?? throw new ArgumentException($"{path}: is a root directory, not a file path", nameof(path));
        Directory.CreateDirectory(directory);

        // Same directory, so the final rename stays on one file system and is atomic; the leading dot and unique
        // suffix keep it out of the way of globbing and of concurrent writers of the same file.
        string tempPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        Unfinished[tempPath] = 0;
        try
        {
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                // Without this, a crash soon after the rename could leave the new name pointing at unwritten data.
                stream.Flush(flushToDisk: true);
            }
            File.Move(tempPath, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
        finally
        {
            Unfinished.TryRemove(tempPath, out _);
        }
    }

    /// <summary>
    /// Deletes the temporary files of the writes in progress in this process, leaving their targets as they were:
    /// for a handler of Ctrl+C or SIGTERM that lets the process end (.NET runs no <c>finally</c> blocks then),
    /// so that an interrupted write leaves nothing behind.
    /// </summary>
    public static void DeleteUnfinished()
    {
        foreach (var tempPath in Unfinished.Keys)
            TryDelete(tempPath);
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 atomically, as <see cref="Write(string, Action{Stream})"/> does.</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="text">The file's whole content.</param>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Write(path, stream => stream.Write(System.Text.Encoding.UTF8.GetBytes(text)));
    }

    private static void TryDelete(string tempPath)
    {
        try
        {
            File.Delete(tempPath);
        }
        catch (IOException)
        {
            // Best effort: the original error is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
