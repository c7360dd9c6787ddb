using System.Diagnostics;
using System.Security.Cryptography;
using EfficientViT.ML.IO;

namespace EfficientViT.ML.Checkpoints.Pretrained;

/// <summary>
/// Finds a <see cref="PretrainedModel"/>'s file: in the application's packaged weights, else in the cache, else by
/// downloading it into the cache. A download goes to a temporary file in the cache folder and is renamed into place
/// only once complete and verified; two processes downloading at once each rename a complete copy, the last one
/// wins, and a reader never sees a partial file.
/// </summary>
internal static class WeightsStore
{
    private const string PartialSuffix = ".partial";

    /// <summary>The record of a file's SHA-256, beside it, in <c>sha256sum</c>'s format.</summary>
    public static string RecordPath(string weightsPath) => weightsPath + ".sha256";

    public static string Resolve(PretrainedModel model, PretrainedWeightsOptions options)
    {
        if (options.ApplicationFolder is { } application)
        {
            var packaged = Path.Combine(application, PretrainedWeightsOptions.PackagedFolderName, model.FileName);
            if (File.Exists(packaged))
            {
                VerifyExisting(model, packaged, "packaged", canRecord: false);
                return packaged;
            }
        }

        var cached = Path.Combine(options.CacheFolder, model.FileName);
        if (File.Exists(cached))
        {
            VerifyExisting(model, cached, "cached", canRecord: true);
            return cached;
        }

        var url = options.UrlOf(model);
        if (options.Offline)
            throw new PretrainedWeightsException(model.Name, url,
                $"not in the cache ({cached}) and {PretrainedWeightsOptions.OfflineVariable}=1 forbids downloading it; " +
                $"copy {model.FileName} there from a machine that has it (`efficientvit weights download {model.Name}`) or install its weights package");
        Download(model, url, cached, options);
        return cached;
    }

    private static void Download(PretrainedModel model, Uri url, string destination, PretrainedWeightsOptions options)
    {
        var folder = options.CacheFolder;
        var createdFolder = !Directory.Exists(folder);
        var temporary = Path.Combine(folder, $".{model.FileName}.{Environment.ProcessId}.{Guid.NewGuid():N}{PartialSuffix}");
        var record = RecordPath(destination);
        var recordExisted = File.Exists(record);
        var recordWritten = false;
        try
        {
            FileStream stream;
            try
            {
                Directory.CreateDirectory(folder);
                stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new PretrainedWeightsException(model.Name, url,
                    $"cannot write to the cache folder {folder} ({e.Message}); set {PretrainedWeightsOptions.HomeVariable} to a writable folder", e);
            }
            string sha256;
            Uri finalUrl;
            using (stream)
            {
                (sha256, finalUrl) = WeightsDownloader.Download(model.Name, url, model.Size, stream, options);
                stream.Flush(flushToDisk: true);
            }
            CheckPinnedHash(model, url, sha256, "the download");
            VerifyStructure(model, temporary, url);

            // The record goes first: a weights file in place always has its record beside it.
            AtomicFile.WriteAllText(record, $"{sha256}  {model.FileName}\n");
            recordWritten = true;
            File.Move(temporary, destination, overwrite: true);
            options.Progress?.Report(new DownloadProgress(model.Name, finalUrl, new FileInfo(destination).Length, model.Size, Completed: true));
        }
        catch (Exception e)
        {
            TryDelete(temporary);
            if (recordWritten && !recordExisted && !File.Exists(destination))
                TryDelete(record);
            if (createdFolder && Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
                TryDeleteFolder(folder);
            if (e is PretrainedWeightsException)
                throw;
            if (e is IOException or UnauthorizedAccessException)
                throw new PretrainedWeightsException(model.Name, url, $"cannot write to the cache folder {folder} ({e.Message})", e);
            throw;
        }
        DeleteAbandonedDownloads(folder, model.FileName);
    }

    /// <summary>The checks of a download, on a file given by hand: its size and SHA-256 where pinned, and the strict load.</summary>
    public static void CheckFile(PretrainedModel model, string path, string sha256)
    {
        var length = new FileInfo(path).Length;
        if (model.Size is { } size && length != size)
            throw new PretrainedWeightsException(model.Name, null, $"{path} has {length:N0} bytes, expected {size:N0}");
        CheckPinnedHash(model, null, sha256, path);
        VerifyStructure(model, path, null);
    }

    private static void CheckPinnedHash(PretrainedModel model, Uri? url, string sha256, string what)
    {
        if (model.Sha256 is { } pinned && !string.Equals(pinned, sha256, StringComparison.OrdinalIgnoreCase))
            throw new PretrainedWeightsException(model.Name, url, $"SHA-256 mismatch: {what} has {sha256}, expected {pinned.ToLowerInvariant()}");
    }

    // A file put in the cache by a download was verified then; each later use checks it against the hash recorded at
    // that time (or the pinned one), so a file changed or damaged since is not used.
    private static void VerifyExisting(PretrainedModel model, string path, string where, bool canRecord)
    {
        var length = new FileInfo(path).Length;
        if (model.Size is { } size && length != size)
            throw new PretrainedWeightsException(model.Name, model.Url,
                $"the {where} copy {path} has {length:N0} bytes, expected {size:N0}; delete it to download it again");
        var record = RecordPath(path);
        var expected = model.Sha256?.ToLowerInvariant() ?? ReadRecord(model, record);
        var actual = Sha256Of(path);
        if (expected is null)
        {
            // Placed by hand (copied from another machine): checked for what it must hold, then trusted from now on.
            VerifyStructure(model, path, model.Url);
            if (canRecord)
                TryWriteRecord(record, actual, model.FileName);
            return;
        }
        if (actual != expected)
            throw new PretrainedWeightsException(model.Name, model.Url,
                $"the {where} copy {path} has SHA-256 {actual}, but {(model.Sha256 is null ? $"{record} recorded" : "the registry pins")} {expected}; delete it to download it again");
    }

    private static string? ReadRecord(PretrainedModel model, string record)
    {
        if (!File.Exists(record))
            return null;
        var text = File.ReadAllText(record).Trim();
        var hash = text.Split([' ', '\t', '\n'], 2)[0].ToLowerInvariant();
        if (hash.Length != 64 || !hash.All(Uri.IsHexDigit))
            throw new PretrainedWeightsException(model.Name, model.Url, $"{record} does not hold a SHA-256; delete it and the weights beside it to download them again");
        return hash;
    }

    /// <summary>The file's SHA-256, lower-case hex.</summary>
    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    // The strict load: the architecture, format and classes the name promises, every tensor present with its shape.
    private static void VerifyStructure(PretrainedModel model, string path, Uri? url)
    {
        try
        {
            using var loaded = EfficientVitCheckpoint.Load(path, new CheckpointLoadOptions { ExpectedVariant = model.Variant });
            if (loaded.Format != model.Format)
                throw new PretrainedWeightsException(model.Name, url, $"not the expected checkpoint: a {loaded.Format} file, expected {model.Format}");
            if (loaded.Metadata.NumClasses != model.NumClasses)
                throw new PretrainedWeightsException(model.Name, url, $"not the expected checkpoint: {loaded.Metadata.NumClasses} classes, expected {model.NumClasses}");
        }
        catch (CheckpointException e)
        {
            throw new PretrainedWeightsException(model.Name, url, $"not the expected checkpoint: {e.Message}", e);
        }
    }

    private static void TryWriteRecord(string record, string sha256, string fileName)
    {
        try
        {
            AtomicFile.WriteAllText(record, $"{sha256}  {fileName}\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only cache still serves the file; its hash is recorded by the first use that can write.
        }
    }

    // Temporary files of downloads whose process has ended (killed, crashed) are never read; they are removed once
    // a later download of the same file has succeeded. Those of live processes are downloads still under way.
    private static void DeleteAbandonedDownloads(string folder, string fileName)
    {
        var prefix = $".{fileName}.";
        foreach (var path in Directory.EnumerateFiles(folder, $"{prefix}*{PartialSuffix}"))
        {
            var parts = Path.GetFileName(path)[prefix.Length..].Split('.');
            if (parts.Length == 3 && int.TryParse(parts[0], out var pid) && !IsRunning(pid))
                TryDelete(path);
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static void TryDeleteFolder(string path)
    {
        try
        {
            Directory.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
