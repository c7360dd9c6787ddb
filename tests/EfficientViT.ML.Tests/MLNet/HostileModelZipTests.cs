using System.Buffers.Binary;
using System.IO.Compression;
using EfficientViT.ML.MLNet;
using Microsoft.ML;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>
/// Model zips made hostile here from the saved featurizer fixture: a network entry that would inflate past the cap or
/// far beyond its stored size, one that lies about its length, a network ONNX Runtime refuses, a truncated zip. Each is
/// refused by <c>LoadWithBatchedScoring</c> in one line naming the zip (and the entry), and no copy of a network is left
/// in the MLContext's temp folder.
/// </summary>
public class HostileModelZipTests
{
    private const string NetworkEntry = "TransformerChain/Transform_002/OnnxModel";

    private static string Fixture => TestFiles.Fixture("saved-zips", "featurizer-image-64.zip");

    // The fixture with the network entry's content replaced (the entries in their order, deflated).
    private static void WriteWithNetworkEntry(string path, Action<Stream> writeNetworkEntry)
    {
        using var source = ZipFile.OpenRead(Fixture);
        using var target = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var entry in source.Entries)
        {
            using var output = target.CreateEntry(entry.FullName, CompressionLevel.Fastest).Open();
            if (entry.FullName == NetworkEntry)
            {
                writeNetworkEntry(output);
            }
            else
            {
                using var input = entry.Open();
                input.CopyTo(output);
            }
        }
    }

    // As ML.NET writes a network: its length, then the bytes.
    private static void WriteNetwork(Stream output, byte[] network)
    {
        Span<byte> prefix = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(prefix, network.Length);
        output.Write(prefix);
        output.Write(network);
    }

    // A network of `length` zero bytes, written from one small buffer.
    private static void WriteZeroNetwork(Stream output, int length)
    {
        Span<byte> prefix = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(prefix, length);
        output.Write(prefix);
        var zeros = new byte[1 << 20];
        for (var left = length; left > 0; left -= zeros.Length)
            output.Write(zeros, 0, Math.Min(left, zeros.Length));
    }

    private static byte[] FixtureNetwork()
    {
        using var zip = ZipFile.OpenRead(Fixture);
        using var stream = zip.GetEntry(NetworkEntry)!.Open();
        using var reader = new BinaryReader(stream);
        return reader.ReadBytes(reader.ReadInt32());
    }

    // An MLContext whose temp files go to a folder of their own, to see what a load leaves there.
    private static MLContext WithTempFolder(TempDirectory dir, out string temp)
    {
        temp = Directory.CreateDirectory(dir.File("mlnet-temp")).FullName;
        return new MLContext { TempFilePath = temp };
    }

    private static (InvalidDataException Error, long AllocatedBytes) Refused(MLContext mlContext, string zip, BatchedScoringOptions? options = null)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<InvalidDataException>(() => mlContext.Model.LoadWithBatchedScoring(zip, options ?? new BatchedScoringOptions(), out _));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith($"LoadWithBatchedScoring: '{zip}'", error.Message);
        return (error, allocated);
    }

    [Fact]
    public void A_network_entry_that_would_inflate_past_the_cap_is_refused_before_anything_is_inflated_or_written()
    {
        using var dir = new TempDirectory();
        var mlContext = WithTempFolder(dir, out var temp);
        var zip = dir.File("bomb.zip");
        // 48 MB of zeros deflate to some 50 KB.
        WriteWithNetworkEntry(zip, output => WriteZeroNetwork(output, 48 << 20));
        Assert.True(new FileInfo(zip).Length < 1 << 20);

        var (overCap, allocatedOverCap) = Refused(mlContext, zip, new BatchedScoringOptions { MaxOnnxModelBytes = 32 << 20 });
        var (overRatio, allocatedOverRatio) = Refused(mlContext, zip);

        Assert.Contains($"zip entry '{NetworkEntry}' would expand to 50,331,652 bytes, more than the 33,554,432 an ONNX network may take (BatchedScoringOptions.MaxOnnxModelBytes", overCap.Message);
        Assert.Matches($"zip entry '{NetworkEntry}' would expand from [0-9,]+ to 50,331,652 bytes, more than 16-fold", overRatio.Message);
        // Refused by the sizes the zip declares: far less is allocated than the entry would take inflated.
        Assert.InRange(allocatedOverCap, 0, 8 << 20);
        Assert.InRange(allocatedOverRatio, 0, 8 << 20);
        Assert.Empty(Directory.GetFiles(temp));
    }

    [Fact]
    public void A_network_entry_whose_length_says_more_than_it_holds_is_refused_without_allocating_that_length()
    {
        using var dir = new TempDirectory();
        var mlContext = WithTempFolder(dir, out var temp);
        // The length prefix rewritten to claim 2 GB.
        var lying = dir.File("claims-2gb.zip");
        WriteWithNetworkEntry(lying, output =>
        {
            var network = FixtureNetwork();
            Span<byte> prefix = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(prefix, int.MaxValue);
            output.Write(prefix);
            output.Write(network);
        });

        var (error, allocated) = Refused(mlContext, lying);

        Assert.EndsWith($"zip entry '{NetworkEntry}' declares a network of 2,147,483,647 bytes but holds {FixtureNetwork().Length:N0}.", error.Message);
        Assert.InRange(allocated, 0, 64 << 20);
        Assert.Empty(Directory.GetFiles(temp));
    }

    [Fact]
    public void A_network_onnx_runtime_refuses_is_named_and_its_temp_copy_deleted()
    {
        using var dir = new TempDirectory();
        var network = FixtureNetwork();
        // The same length, the middle overwritten: the protobuf breaks.
        Array.Fill(network, (byte)0xFF, network.Length / 3, network.Length / 3);
        var zip = dir.File("corrupt-network.zip");
        WriteWithNetworkEntry(zip, output => WriteNetwork(output, network));
        var plainTemp = Directory.CreateDirectory(dir.File("plain")).FullName;
        var batchedTemp = Directory.CreateDirectory(dir.File("batched")).FullName;

        // ML.NET's own load leaves its copy of the network behind: what LoadWithBatchedScoring cleans up.
        Assert.ThrowsAny<Exception>(() => new MLContext { TempFilePath = plainTemp }.Model.Load(zip, out _));
        var (error, _) = Refused(new MLContext { TempFilePath = batchedTemp }, zip);

        Assert.Equal(network, File.ReadAllBytes(Assert.Single(Directory.GetFiles(plainTemp))));
        Assert.StartsWith($"LoadWithBatchedScoring: '{zip}': zip entry '{NetworkEntry}' is not a network ONNX Runtime can load: ", error.Message);
        Assert.Empty(Directory.GetFiles(batchedTemp));
    }

    [Fact]
    public void A_truncated_or_corrupt_zip_is_refused_in_one_line_naming_it_and_the_entry()
    {
        using var dir = new TempDirectory();
        var mlContext = WithTempFolder(dir, out var temp);
        var bytes = File.ReadAllBytes(Fixture);
        var truncated = dir.File("truncated.zip");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length * 2 / 3)]);
        // A byte of the network's deflated data changed: it still inflates (ONNX Runtime would take it), but not to what its checksum says.
        var changed = dir.File("changed.zip");
        File.WriteAllBytes(changed, Flipped(bytes, bytes.Length / 2));
        // A byte of the first step's deflated data changed so that it no longer inflates: ML.NET's own load throws a bare TargetInvocationException.
        const string FirstStep = "TransformerChain/Transform_000/Model.key";
        var method = dir.File("undeflatable.zip");
        File.WriteAllBytes(method, Flipped(bytes, bytes.AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(FirstStep)) + FirstStep.Length + 29));

        var (truncatedError, _) = Refused(mlContext, truncated);
        var (changedError, _) = Refused(mlContext, changed);
        var (methodError, _) = Refused(mlContext, method);

        Assert.StartsWith($"LoadWithBatchedScoring: '{truncated}' is not a readable zip: ", truncatedError.Message);
        Assert.Equal($"LoadWithBatchedScoring: '{changed}': zip entry '{NetworkEntry}' does not match its checksum (the zip is corrupt).", changedError.Message);
        Assert.IsType<System.Reflection.TargetInvocationException>(Assert.ThrowsAny<Exception>(() => mlContext.Model.Load(method, out _)));
        Assert.Equal($"LoadWithBatchedScoring: '{method}': zip entry '{FirstStep}' cannot be read, the zip is truncated or corrupt (The archive entry was compressed using an unsupported compression method).",
            methodError.Message);
        Assert.Empty(Directory.GetFiles(temp));
    }

    private static byte[] Flipped(byte[] bytes, int offset)
    {
        var copy = bytes.ToArray();
        copy[offset] ^= 0x5A;
        return copy;
    }
}
