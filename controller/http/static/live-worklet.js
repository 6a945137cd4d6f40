// The live talk's AudioWorklet (live.js): the microphone's samples, in an AudioContext at the
// house rate (22050 Hz), as 16-bit PCM messages of 20 ms, with each message's peak for the meter.
const FRAMES = 441;

class LivePcm extends AudioWorkletProcessor {
  constructor() {
    super();
    this.pcm = new Int16Array(FRAMES);
    this.filled = 0;
    this.peak = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i += 1) {
      const s = Math.max(-1, Math.min(1, channel[i]));
      this.peak = Math.max(this.peak, Math.abs(s));
      this.pcm[this.filled] = s < 0 ? s * 0x8000 : s * 0x7fff;
      this.filled += 1;
      if (this.filled === FRAMES) {
        this.port.postMessage({ pcm: this.pcm.buffer, peak: this.peak }, [this.pcm.buffer]);
        this.pcm = new Int16Array(FRAMES);
        this.filled = 0;
        this.peak = 0;
      }
    }
    return true;
  }
}

registerProcessor("live-pcm", LivePcm);
