using EfficientViT.ML.IO;

namespace EfficientViT.ML.Data;

/// <summary>
/// Lists the class folders of an image folder and the image files in and below each, so that every real file is
/// listed once, whatever links the folder holds: a class folder may be a link to a folder elsewhere, but links to
/// folders below the class folders are not followed (one back to a folder above it would list the same images
/// again and again, under every class). Links to files are listed once per file they lead to. What cannot be read
/// as an image file is skipped, each with a message naming it: named pipes and devices (reading one would block
/// or never end), names that are not valid UTF-8 (.NET cannot pass them back to the file system), and links that
/// lead nowhere new.
/// </summary>
internal sealed class ImageFileTree(string root, Action<string>? warn)
{
    private static readonly EnumerationOptions OneLevel = new() { RecurseSubdirectories = false, AttributesToSkip = 0, IgnoreInaccessible = false };

    private readonly Dictionary<UnixFileStatus, string> listedFiles = [];
    private readonly Dictionary<UnixFileStatus, string> classFolders = [];
    private Dictionary<UnixFileStatus, string>? rootAndAbove;

    // The root and the folders above it, by identity: a link to one of them lists the image folder inside itself.
    private Dictionary<UnixFileStatus, string> RootAndAbove => rootAndAbove ??= FoldersFromRootUp();

    /// <summary>The class folders of the root, sorted ordinally; skipped ones are reported.</summary>
    public List<string> ClassFolders()
    {
        var folders = new List<string>();
        foreach (var folder in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            if (Unreadable(folder) is { } problem)
            {
                warn?.Invoke($"skipping class folder '{folder}': {problem}");
                continue;
            }
            if (FolderIdentity(folder) is not { } identity)
            {
                folders.Add(folder);
                continue;
            }
            if (RootAndAbove.TryGetValue(identity, out var ancestor))
                warn?.Invoke($"skipping class folder '{folder}': a link back to '{ancestor}', which holds the image folder (a loop)");
            else if (classFolders.TryGetValue(identity, out var same))
                warn?.Invoke($"skipping class folder '{folder}': a link to '{same}', another class folder");
            else
            {
                classFolders[identity] = folder;
                folders.Add(folder);
            }
        }
        return folders;
    }

    /// <summary>
    /// The image files (by extension) in <paramref name="classFolder"/> and the folders below it, sorted ordinally,
    /// without the files listed before (by an earlier class folder, or through another link).
    /// </summary>
    public List<string> FilesIn(string classFolder)
    {
        var found = new List<string>();
        Walk(classFolder, FolderIdentity(classFolder) is { } top ? [(top, classFolder)] : [], found);
        var files = new List<string>();
        foreach (var file in found.Order(StringComparer.Ordinal))
        {
            if (UnixFileStatus.Of(file) is { Kind: UnixFileKind.Regular } identity)
            {
                if (listedFiles.TryGetValue(identity, out var first))
                {
                    warn?.Invoke($"skipping '{file}': the same file as '{first}' (a link), listed once");
                    continue;
                }
                listedFiles[identity] = file;
            }
            files.Add(file);
        }
        return files;
    }

    private void Walk(string folder, List<(UnixFileStatus Identity, string Path)> ancestors, List<string> found)
    {
        foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos("*", OneLevel))
        {
            var path = entry.FullName;
            if (Unreadable(path) is { } problem)
            {
                warn?.Invoke($"skipping '{path}': {problem}");
                continue;
            }
            if (entry is DirectoryInfo)
            {
                var identity = FolderIdentity(path);
                if (entry.LinkTarget is not null)
                {
                    var loop = identity is not { } known ? null
                        : ancestors.FirstOrDefault(a => a.Identity == known).Path ?? RootAndAbove.GetValueOrDefault(known);
                    warn?.Invoke(loop is not null
                        ? $"skipping '{path}': a link back to '{loop}' (a loop); links to folders are not followed"
                        : $"skipping '{path}': a link to the folder '{entry.LinkTarget}'; links to folders below a class folder are not followed");
                    continue;
                }
                Walk(path, identity is { } folderIdentity ? [.. ancestors, (folderIdentity, path)] : ancestors, found);
                continue;
            }
            if (!ImageFiles.IsImageFile(path))
                continue;
            if (UnixFileStatus.Of(path) is { Kind: UnixFileKind.Fifo or UnixFileKind.CharacterDevice or UnixFileKind.BlockDevice or UnixFileKind.Socket or UnixFileKind.Directory } special)
            {
                warn?.Invoke($"skipping '{path}': it is {UnixFileStatus.Describe(special.Kind)}, not a regular file");
                continue;
            }
            // Regular files, and links to nothing: reading the latter fails with a message naming them.
            found.Add(path);
        }
    }

    // A name read from the file system that does not lead back to it: its bytes are not valid UTF-8, and .NET put
    // U+FFFD in their place.
    private static string? Unreadable(string path) =>
        UnixFileStatus.Of(path, followLinks: false) is { Kind: UnixFileKind.Missing }
            ? path.Contains('\uFFFD') ? "its name is not valid UTF-8, and cannot be opened from .NET; rename it" : "it disappeared while the folder was read"
            : null;

    // The folder a path leads to, by identity; null where that cannot be told.
    private static UnixFileStatus? FolderIdentity(string path) => UnixFileStatus.Of(path) is { Kind: UnixFileKind.Directory } identity ? identity : null;

    private Dictionary<UnixFileStatus, string> FoldersFromRootUp()
    {
        var folders = new Dictionary<UnixFileStatus, string>();
        for (var folder = new DirectoryInfo(Path.GetFullPath(root)); folder is not null; folder = folder.Parent)
        {
            if (FolderIdentity(folder.FullName) is { } identity)
                folders.TryAdd(identity, folder.FullName);
        }
        return folders;
    }
}
