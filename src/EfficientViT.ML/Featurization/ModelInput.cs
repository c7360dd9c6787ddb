using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Featurization;

/// <summary>Where the featurizer's batches come from: a column whose rows each give one model input of 3·S·S floats.</summary>
internal abstract class ModelInput(string columnName, string userColumn)
{
    /// <summary>The column read (an intermediate one for image input).</summary>
    public string ColumnName => columnName;

    /// <summary>The user's input column, for messages.</summary>
    protected string UserColumn => userColumn;

    /// <summary>A reader over <paramref name="cursor"/>'s rows.</summary>
    public abstract Reader Open(DataViewRowCursor cursor);

    /// <summary>Reads the current row of one cursor.</summary>
    public abstract class Reader : IDisposable
    {
        /// <summary>Gets the current row's value; its exceptions are the row's data errors (unreadable image, …).</summary>
        public abstract void Fetch();

        /// <summary>Writes the fetched value as model input, or throws an <see cref="InvalidOperationException"/> naming <paramref name="row"/>.</summary>
        public abstract void Write(long row, Span<float> destination);

        public virtual void Dispose()
        {
        }
    }
}

/// <summary>Preprocessed pixels: a float vector already of the model's input size, copied as it is.</summary>
internal sealed class PixelVectorInput(string columnName, string userColumn, int imageSize) : ModelInput(columnName, userColumn)
{
    private int ImageSize => imageSize;

    public override Reader Open(DataViewRowCursor cursor) => new VectorReader(this, cursor.GetGetter<VBuffer<float>>(cursor.Schema[ColumnName]));

    private sealed class VectorReader(PixelVectorInput input, ValueGetter<VBuffer<float>> getter) : Reader
    {
        private VBuffer<float> pixels;

        public override void Fetch() => getter(ref pixels);

        public override void Write(long row, Span<float> destination)
        {
            if (pixels.Length != destination.Length)
                throw new InvalidOperationException($"EfficientVitFeaturize: row {row} of column '{input.UserColumn}' has {pixels.Length} values; the model takes {destination.Length} (3 x {input.ImageSize} x {input.ImageSize}).");
            pixels.CopyTo(destination);
        }
    }
}

/// <summary>Images of the model's side (after ML.NET's ResizeImages), resampled by a <see cref="BicubicUpsampler"/>.</summary>
internal sealed class ImageInput(string columnName, string userColumn, BicubicUpsampler upsampler) : ModelInput(columnName, userColumn)
{
    private BicubicUpsampler Upsampler => upsampler;

    public override Reader Open(DataViewRowCursor cursor) => new ImageReader(this, cursor.GetGetter<MLImage>(cursor.Schema[ColumnName]));

    private sealed class ImageReader(ImageInput input, ValueGetter<MLImage> getter) : Reader
    {
        private readonly BicubicUpsampler.Scratch scratch = new(input.Upsampler);
        // Kept between rows, as ML.NET's ExtractPixels keeps it: the getter releases the previous image.
        private MLImage? image;

        public override void Fetch() => getter(ref image!);

        public override void Write(long row, Span<float> destination)
        {
            // ExtractPixels, which the saved model runs, turns a missing image into zeros; so does this.
            if (image is null)
            {
                destination.Clear();
                return;
            }
            try
            {
                input.Upsampler.Write(image, destination, scratch);
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidOperationException($"EfficientVitFeaturize: row {row} of column '{input.UserColumn}': {e.Message}", e);
            }
        }

        public override void Dispose()
        {
            image?.Dispose();
            image = null;
        }
    }
}
