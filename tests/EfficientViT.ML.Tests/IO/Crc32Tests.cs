using System.IO.Compression;
using System.Text;
using EfficientViT.ML.IO;

namespace EfficientViT.ML.Tests.IO;

public class Crc32Tests
{
    [Fact]
    public void Gives_the_standard_check_value_and_the_checksums_a_zip_records()
    {
        // The check value of CRC-32/ISO-HDLC, the zip format's.
        Assert.Equal(0xCBF43926u, Crc32.Compute(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(Crc32.Compute(Encoding.ASCII.GetBytes("123456789")), Crc32.Append(Crc32.Compute(Encoding.ASCII.GetBytes("1234")), Encoding.ASCII.GetBytes("56789")));
        Assert.Equal(0u, Crc32.Compute([]));

        using var zip = ZipFile.OpenRead(TestFiles.Fixture("saved-zips", "featurizer-image-64.zip"));
        foreach (var entry in zip.Entries)
        {
            using var stream = entry.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            Assert.Equal(entry.Crc32, Crc32.Compute(copy.ToArray()));
        }
    }
}
