const city = process.argv[2] ?? "Berlin";
const geo = await fetch(
  `https://geocoding-api.open-meteo.com/v1/search?name=${encodeURIComponent(city)}&count=1`,
);
const { results } = await geo.json();
const { latitude, longitude } = results[0];
const forecast = await fetch(
  `https://api.open-meteo.com/v1/forecast?latitude=${latitude}&longitude=${longitude}&current_weather=true`,
);
console.log(JSON.stringify(await forecast.json()));
