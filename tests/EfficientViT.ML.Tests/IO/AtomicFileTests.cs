using EfficientViT.ML.IO;

namespace EfficientViT.ML.Tests.IO;

/// <summary>Atomic writes: a failing writer never damages the existing file nor leaves temporary files behind.</summary>
public sealed class AtomicFileTests
{
    [Fact]
    public void Write_CreatesTheFileAndMissingDirectories()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "a", "b", "out.bin");

        AtomicFile.Write(path, stream => stream.Write([1, 2, 3]));

        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void Write_ReplacesAnExistingFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("out.bin");
        File.WriteAllBytes(path, [9, 9, 9, 9, 9]);

        AtomicFile.Write(path, stream => stream.Write([4]));

        Assert.Equal([4], File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Write_ThatThrowsMidway_KeepsThePreviousFileAndLeavesNoTemporaryFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.bin");
        byte[] previous = [10, 20, 30];
        File.WriteAllBytes(path, previous);

        var error = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[100_000]);
            stream.Flush();
            throw new InvalidOperationException("disk on fire");
        }));

        Assert.Equal("disk on fire", error.Message);
        Assert.Equal(previous, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Write_ThatThrows_CreatesNoFileWhereThereWasNone()
    {
        using var dir = new TempDirectory();
        string path = dir.File("never.bin");

        Assert.Throws<IOException>(() => AtomicFile.Write(path, _ => throw new IOException("nope")));

        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public async Task DeleteUnfinished_RemovesTheTemporaryFileOfAWriteInProgress_AndLeavesTheTargetAsItWas()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.onnx");
        File.WriteAllBytes(path, [1, 2, 3]);
        using var writing = new ManualResetEventSlim();
        using var resume = new ManualResetEventSlim();
        var write = Task.Run(() => AtomicFile.Write(path, stream =>
        {
            stream.Write([4, 5]);
            writing.Set();
            resume.Wait();
        }));
        writing.Wait();
        Assert.Single(Directory.GetFiles(dir.Path, ".model.onnx.*.tmp"));

        // What a Ctrl+C or SIGTERM handler does before the process ends.
        AtomicFile.DeleteUnfinished();

        Assert.Empty(Directory.GetFiles(dir.Path, ".model.onnx.*.tmp"));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        resume.Set();
        await Assert.ThrowsAsync<FileNotFoundException>(() => write);
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }
}
