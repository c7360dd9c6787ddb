using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>Preprocessed pixels: a float vector already of the model's input size, copied as it is.</summary>
internal sealed class PixelVectorInput(string columnName, string userColumn, int imageSize) : ModelInput(columnName, userColumn)
{
    private int ImageSize => imageSize;

    public override Reader Open(DataViewRow row) => new VectorReader(this, row.GetGetter<VBuffer<float>>(row.Schema[ColumnName]));

    private sealed class VectorReader(PixelVectorInput input, ValueGetter<VBuffer<float>> getter) : Reader
    {
        private VBuffer<float> pixels;

        public override void Fetch() => getter(ref pixels);

        public override void Write(long row, Span<float> destination)
        {
            if (pixels.Length != destination.Length)
                throw new InvalidOperationException($"EfficientVitFeaturize: row {row} of column '{input.UserColumn}' has {pixels.Length} values; the model takes {destination.Length} (3 x {input.ImageSize} x {input.ImageSize}); set EfficientVitFeaturizerOptions.ImageSize to run it at another size.");
            pixels.CopyTo(destination);
        }
    }
}
